"""What is new for each caseworker: unread conversations, and the alerts that reach every open console page.

A conversation is unread for a staff member while the person has written something after the
last line that staff member saw (`conversation_reads`, moved on when they open the conversation or
its open page receives new lines). Alerts count the conversations waiting for a caseworker, and the
urgent ones, that this staff member may see and has not read; every console page shows them in the
tab's title, and can ring and show a browser notification when one more arrives.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from console.access import Staff
from db.models import Beneficiary, Conversation, ConversationRead, Message


async def mark_read(session: AsyncSession, staff_id: int, conversation_id: int, message_id: int, now: datetime) -> None:
    """This staff member has seen the conversation up to `message_id` (never moves back)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    insert = sqlite_insert if sqlite else pg_insert
    statement = insert(ConversationRead).values(
        staff_id=staff_id, conversation_id=conversation_id, last_message_id=message_id, read_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["staff_id", "conversation_id"],
            set_={
                "last_message_id": func.max(ConversationRead.last_message_id, statement.excluded.last_message_id)
                if sqlite
                else func.greatest(ConversationRead.last_message_id, statement.excluded.last_message_id),
                "read_at": now,
            },
        )
    )


def _last_from_person() -> ScalarSelect[Any]:
    return (
        select(func.max(Message.id))
        .where(Message.conversation_id == Conversation.id, Message.direction == "in")
        .correlate(Conversation)
        .scalar_subquery()
    )


def _unread(staff_id: int) -> ColumnElement[bool]:
    """A condition on Conversation: the person wrote after what `staff_id` last saw."""
    seen = (
        select(ConversationRead.last_message_id)
        .where(ConversationRead.conversation_id == Conversation.id, ConversationRead.staff_id == staff_id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    last = _last_from_person()
    return and_(last.is_not(None), or_(seen.is_(None), last > seen))


async def unread_among(session: AsyncSession, staff: Staff, conversation_ids: list[int]) -> set[int]:
    """Which of these conversations (a page of the inbox) are unread for this staff member."""
    if not conversation_ids:
        return set()
    found = await session.execute(
        select(Conversation.id).where(Conversation.id.in_(conversation_ids), _unread(staff.id))
    )
    return set(found.scalars())


@dataclass(frozen=True)
class Alerts:
    waiting: int  # waiting for a caseworker, with something unread
    urgent: int  # of those, marked urgent
    mine: int  # of those, assigned to this staff member (by hand or automatically)
    latest: str  # when the newest of them began to wait: a new hand-off changes it

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def alerts(session: AsyncSession, staff: Staff) -> Alerts:
    """The waiting and urgent conversations this staff member may see and has not read (not those snoozed)."""
    query = (
        select(
            func.count(),
            func.count().filter(Conversation.urgent.is_(True)),
            func.count().filter(Conversation.assignee_id == staff.id),
            func.max(Conversation.handoff_at),
        )
        .select_from(Conversation)
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .where(
            Conversation.needs_human.is_(True),
            or_(Conversation.status != ownership.SNOOZED, Conversation.urgent.is_(True)),  # snoozed: out of sight
            staff.scope(),
            _unread(staff.id),
        )
    )
    waiting, urgent, mine, latest = (await session.execute(query)).one()
    return Alerts(int(waiting), int(urgent), int(mine), latest.isoformat() if latest else "")
