"""Snoozed conversations wake: when their time passes, when the person writes, or when they turn urgent.

`bot.ownership` decides the status; this module wakes those whose time has come, from the scheduler
of every process that runs one. One UPDATE claims and wakes them: on PostgreSQL a row another process
has just woken no longer matches when its lock is released, and SQLite runs one writer at a time, so
each wake happens, and is written to the audit log, once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from db.models import AuditEntry, Conversation
from db.session import Database

BY_TIME = "snooze"  # the audit log's actor when the time set for the snooze passed


def woke(session: AsyncSession, conversation_id: int, actor: str, now: datetime) -> None:
    """Record a wake in the audit log; the actor says why (the person, the end of the snooze, a caseworker)."""
    session.add(AuditEntry(at=now, actor=actor, action="conversation.woke", target=f"conversation:{conversation_id}"))


async def wake_due(session: AsyncSession, now: datetime) -> list[int]:
    """Open every conversation whose snooze has ended; their ids."""
    found = await session.execute(
        update(Conversation)
        .where(Conversation.status == ownership.SNOOZED, Conversation.snoozed_until <= now)
        .values(status=ownership.OPEN, snoozed_until=None, updated_at=now)
        .returning(Conversation.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(found.scalars())
    for conversation_id in ids:
        woke(session, conversation_id, BY_TIME, now)
    return ids


async def run_once(db: Database, now: datetime) -> list[int]:
    async with db.transaction() as session:
        return await wake_due(session, now)
