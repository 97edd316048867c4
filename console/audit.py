"""The audit log: every transcript read, export and change, written in the same transaction as the act.

Entries are only ever added; the console has no route that edits or deletes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEntry

PAGE = 100


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    now: datetime,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor=actor[:80],
            action=action[:40],
            target=target[:80] if target else None,
            detail=detail,
        )
    )


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))


async def entries(session: AsyncSession, *, actor: str = "", action: str = "", page: int = 1) -> AuditPage:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE).limit(PAGE))
    return AuditPage(list(rows.scalars()), total, page)
