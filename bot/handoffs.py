"""The history of hand-offs: each wait for a caseworker, its first answer and its end, for reports.

`bot.ownership` decides what a conversation's mode becomes; this module keeps the record of each
wait beside it, in the same transaction, so that first-response and resolution times can be
measured over any period (`console.reports`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from db.models import Conversation, Handoff


def began(session: AsyncSession, conversation: Conversation, *, urgent: bool, now: datetime) -> None:
    """A new wait began (call when `needs_human` turns from false to true)."""
    session.add(Handoff(conversation_id=conversation.id, requested_at=now, urgent=urgent))


async def turned_urgent(session: AsyncSession, conversation_id: int) -> None:
    """The conversation was flagged urgent: its open waits count as urgent, whenever in the wait it happened."""
    await session.execute(
        update(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.resolved_at.is_(None), Handoff.urgent.is_(False))
        .values(urgent=True)
    )


async def danger(session: AsyncSession, conversation: Conversation, now: datetime) -> None:
    """A danger message: the conversation is urgent and waits for a caseworker (`ownership.flag_danger`),
    whatever the person's consent. A person already waiting waits on, urgently; anyone else begins an
    urgent wait, counted with the hand-offs."""
    if conversation.needs_human:
        await turned_urgent(session, conversation.id)
    else:
        began(session, conversation, urgent=True, now=now)
    ownership.flag_danger(conversation, now)


async def answered(session: AsyncSession, conversation_id: int, by: str, now: datetime) -> None:
    """A caseworker answered: the first answer of each open wait is its response time."""
    await session.execute(
        update(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.first_response_at.is_(None),
            Handoff.resolved_at.is_(None),
        )
        .values(first_response_at=now, first_response_by=by)
    )


async def ended(session: AsyncSession, conversation_id: int, how: str, now: datetime) -> None:
    """The conversation went back to the bot (`returned`) or was closed (`closed`): open waits end."""
    await session.execute(
        update(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.resolved_at.is_(None))
        .values(resolved_at=now, resolution=how)
    )
