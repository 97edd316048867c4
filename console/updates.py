"""Stored updates that did not run as usual, for admins: quarantined ones, and ones read only in part.

Only what describes the update is shown: its channel, its kind (the update's top-level field),
when it came, how often its turn ran and the error (type, place and field paths). Never what
the person sent: the raw update stays in the inbox, out of sight, until retention or erasure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine import QUARANTINED
from db.models import InboxUpdate

SHOWN = 200  # newest first; older ones are still counted in /metrics


@dataclass(frozen=True)
class HeldUpdate:
    id: int
    channel: str
    kind: str
    received_at: datetime
    attempts: int
    error: str


def kind_of(raw: str | None) -> str:
    """The update's kind (`message`, `callback_query`…): the name of its top-level field, never a value."""
    if raw is None:
        return ""
    try:
        data = json.loads(raw)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return next((str(key)[:40] for key in data if key != "update_id"), "")


async def held(session: AsyncSession) -> tuple[list[HeldUpdate], list[HeldUpdate]]:
    """(quarantined, read in part), newest first."""
    found: dict[bool, list[HeldUpdate]] = {True: [], False: []}
    rows = await session.execute(
        select(
            InboxUpdate.id,
            InboxUpdate.channel,
            InboxUpdate.raw,
            InboxUpdate.received_at,
            InboxUpdate.attempts,
            InboxUpdate.error,
            InboxUpdate.status,
        )
        .where((InboxUpdate.status == QUARANTINED) | ((InboxUpdate.status == "done") & InboxUpdate.error.is_not(None)))
        .order_by(InboxUpdate.id.desc())
        .limit(2 * SHOWN)
    )
    for row_id, channel, raw, received_at, attempts, error, status in rows:
        item = HeldUpdate(row_id, channel, kind_of(raw), received_at, attempts, error or "")
        found[status == QUARANTINED].append(item)
    return found[True][:SHOWN], found[False][:SHOWN]
