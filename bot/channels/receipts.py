"""Delivery receipts: what an app reports about a message after it was sent (delivered, read, failed).

A receipt names the transcript line it is about; the line's status only moves forward
(queued → sent → delivered → read), and a failure is recorded with its reason unless the line
was already delivered. Each change is one conditional UPDATE, so two receipts of one line
committed at the same moment (Meta sends `sent` and `delivered` close together) can never take
it back a step. Receipts arriving together share one commit (`ReceiptWriter`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, update

from db.models import Message
from db.session import Database, lost_a_race

RACE_RETRIES = 3  # a receipt's lines may be locked by delivery recording the same sends (PostgreSQL)

RANK = {"queued": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}


@dataclass(frozen=True)
class Receipt:
    """A status callback: the transcript line it is about, and what happened to it."""

    line_id: int
    status: str  # sent | delivered | read | failed
    error: str | None = None


async def record(db: Database, receipts: list[Receipt]) -> int:
    """Apply receipts to their transcript lines in one transaction; returns how many lines changed.

    One UPDATE per kind of receipt (and per failure reason), each line's current status in its WHERE.
    Delivery records the same lines' sends meanwhile: a transaction PostgreSQL picks as the loser of a
    deadlock between the two is run again, up to RACE_RETRIES times.
    """
    if not receipts:
        return 0
    groups: dict[tuple[str, str | None], set[int]] = {}
    for receipt in receipts:
        groups.setdefault((receipt.status, receipt.error), set()).add(receipt.line_id)
    for attempt in range(RACE_RETRIES + 1):
        try:
            return await _record(db, groups)
        except Exception as exc:  # PostgreSQL chose this commit as a deadlock's loser: it rolled back
            if not lost_a_race(exc) or attempt == RACE_RETRIES:
                raise
    raise AssertionError("unreachable")


@cache
def _moving(status: str) -> Any:
    """The UPDATE moving lines (`lines`) on to `status`, from any status before it; built once per status.

    Through the table, not the ORM entity: nothing in the session is kept in step with it."""
    messages = cast(Table, Message.__table__)
    if status == "failed":
        before = [s for s, rank in RANK.items() if rank < RANK["delivered"]]
        values: dict[str, Any] = {"status": "failed", "error": bindparam("error")}
    else:
        before = [s for s, rank in RANK.items() if rank < RANK[status]]
        values = {"status": status}
    return (
        update(messages)
        .where(
            messages.c.id.in_(bindparam("lines", expanding=True)),
            messages.c.direction == "out",
            messages.c.status.in_(before),
        )
        .values(**values)
    )


async def _record(db: Database, groups: dict[tuple[str, str | None], set[int]]) -> int:
    changed = 0
    async with db.transaction() as session:
        for status, error in sorted(groups, key=lambda key: RANK.get(key[0], 9)):
            params: dict[str, Any] = {"lines": sorted(groups[(status, error)])}
            if status == "failed":
                params["error"] = error
            result = await session.execute(_moving(status), params)
            changed += result.rowcount or 0  # type: ignore[attr-defined]
    return changed


class ReceiptWriter:
    """Records receipts of requests arriving together in one commit; each request waits for its commit."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[list[Receipt], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, receipts: list[Receipt]) -> None:
        if not receipts:
            return
        done = asyncio.get_running_loop().create_future()
        self._pending.append((receipts, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done  # not shielded: a request cancelled meanwhile is recorded all the same (`InboxWriter`)

    async def _write(self) -> None:
        await asyncio.sleep(0)  # let the requests already in hand join this commit
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await record(self.db, [r for receipts, _ in batch for r in receipts])
            except Exception as exc:  # the requests fail; Meta sends their receipts again
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
