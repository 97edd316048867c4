"""Delivery receipts: what an app reports about a message after it was sent (delivered, read, failed).

A receipt names the transcript line it is about; the line's status only moves forward
(queued → sent → delivered → read), and a failure is recorded with its reason unless the line
was already delivered.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.models import Message
from db.session import Database

RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}


@dataclass(frozen=True)
class Receipt:
    """A status callback: the transcript line it is about, and what happened to it."""

    line_id: int
    status: str  # sent | delivered | read | failed
    error: str | None = None


async def record(db: Database, receipts: list[Receipt]) -> int:
    """Apply receipts to their transcript lines in one transaction; returns how many lines changed."""
    changed = 0
    if not receipts:
        return 0
    async with db.transaction() as session:
        for receipt in receipts:
            line = await session.get(Message, receipt.line_id)
            if line is None or line.direction != "out":
                continue
            current = RANK.get(line.status)
            if receipt.status == "failed":
                if current is not None and current < RANK["delivered"]:
                    line.status, line.error = "failed", receipt.error
                    changed += 1
            elif current is not None and RANK[receipt.status] > current:
                line.status = receipt.status
                changed += 1
    return changed
