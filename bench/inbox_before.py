"""The inbox's queries as they were before its indexes and single count statement: the console bench's baseline.

One count statement per filter, an offset page with each row's last line read by a correlated
subquery, and "follow-up due" tried on every conversation. Measured in the same run as
`console.inbox.load`, on the same data and indexes, so the ratio shows what the query shapes change.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, Select, exists, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from console.access import Staff
from console.inbox import COUNT_CAP, FILTERS, PAGE, Query, _narrowed
from db.models import Beneficiary, Conversation, FollowupContact, Message, Submission


def _followup_due(staff: Staff) -> ColumnElement[bool]:
    completed = select(Submission.id).where(
        Submission.id == FollowupContact.submission_id, Submission.status == "completed"
    )
    return exists().where(
        FollowupContact.beneficiary_id == Conversation.beneficiary_id,
        FollowupContact.status == "sent",
        ~exists(completed),
    )


def _condition(key: str, staff: Staff) -> ColumnElement[bool]:
    return _followup_due(staff) if key == "followup_due" else FILTERS[key].condition(staff)


async def counts(session: AsyncSession, staff: Staff, query: Query) -> dict[str, int]:
    found = {}
    for key in FILTERS:
        rows = select(Conversation.id).where(_condition(key, staff))
        rows = _narrowed(rows.join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id), staff, query)
        capped = rows.limit(COUNT_CAP).subquery()
        found[key] = (await session.execute(select(func.count()).select_from(capped))).scalar_one()
    return found


async def load(session: AsyncSession, staff: Staff, query: Query) -> tuple[list[Any], dict[str, int]]:
    condition = _condition(query.view, staff) if query.view in FILTERS else false()
    last = (
        select(Message.id)
        .where(Message.conversation_id == Conversation.id)
        .order_by(Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    page = cast(
        Select[Any],
        select(Conversation, Beneficiary, last.label("last_id"))
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .where(condition, Conversation.last_message_at.is_not(None)),
    )
    page = _narrowed(page, staff, query)
    page = page.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    page = page.offset((query.page - 1) * PAGE).limit(PAGE + 1)
    found = (await session.execute(page)).all()
    last_ids = [r.last_id for r in found[:PAGE] if r.last_id is not None]
    previews = []
    if last_ids:
        chosen = select(Message.id, Message.text, Message.author).where(Message.id.in_(last_ids))
        previews = list((await session.execute(chosen)).all())
    return previews, await counts(session, staff, query)
