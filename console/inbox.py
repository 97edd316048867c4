"""The inbox: conversations newest first, narrowed by filters, with a count for each filter.

Filters are a registry (`FILTERS`) of named conditions, so a capability that lands later (such as
"follow-up due") adds its own without touching the page. Every query is limited to the people the
staff member may see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from bot.i18n import N_
from console.access import Staff
from db.models import Beneficiary, Conversation, Message

PAGE = 50
COUNT_CAP = 1000  # beyond this a queue's exact size helps nobody, and counting it costs a scan


@dataclass(frozen=True)
class Filter:
    """A named inbox view: its label (a msgid) and its condition for the staff member looking."""

    key: str
    label: str
    condition: Callable[[Staff], ColumnElement[bool]]


FILTERS: dict[str, Filter] = {}


def add_filter(
    key: str, label: str, condition: Callable[[Staff], ColumnElement[bool]], *, before: str | None = None
) -> None:
    """Register a filter, at the end or just before the filter `before` (so "Closed" can stay last)."""
    added = Filter(key, label, condition)
    if before is None or before not in FILTERS:
        FILTERS[key] = added
        return
    entries = [(k, f) for k, f in FILTERS.items() if k != key]
    FILTERS.clear()
    for k, f in entries:
        if k == before:
            FILTERS[key] = added
        FILTERS[k] = f


def _status(status: str) -> ColumnElement[bool]:
    return and_(Conversation.mode != ownership.CLOSED, Conversation.status == status)


def _awake() -> ColumnElement[bool]:
    """Not snoozed: a snoozed conversation stays out of the open views until it wakes (urgent ones always wake)."""
    return or_(Conversation.status != ownership.SNOOZED, Conversation.urgent.is_(True))


add_filter("open", N_("Open"), lambda staff: _status(ownership.OPEN))
add_filter("needs_human", N_("Needs a caseworker"), lambda staff: and_(Conversation.needs_human.is_(True), _awake()))
add_filter("urgent", N_("Urgent"), lambda staff: Conversation.urgent.is_(True))
add_filter("mine", N_("Assigned to me"), lambda staff: and_(Conversation.assignee_id == staff.id, _awake()))
add_filter(
    "unassigned",
    N_("Unassigned"),
    lambda staff: and_(Conversation.assignee_id.is_(None), Conversation.mode != ownership.CLOSED, _awake()),
)
add_filter("pending", N_("Pending"), lambda staff: _status(ownership.PENDING))
add_filter("snoozed", N_("Snoozed"), lambda staff: _status(ownership.SNOOZED))
add_filter("closed", N_("Closed"), lambda staff: Conversation.mode == ownership.CLOSED)


@dataclass(frozen=True)
class Query:
    """What the inbox was asked for: one filter, and optionally a language, a municipality and an app."""

    view: str = "needs_human"
    locale: str = ""
    municipality: str = ""
    app: str = ""  # the app the person wrote from last (telegram, whatsapp, viber, web)
    page: int = 1


@dataclass(frozen=True)
class Row:
    conversation_id: int
    mode: str
    urgent: bool
    needs_human: bool
    assignee_id: int | None
    labels: list[str]
    last_message_at: datetime | None
    display_name: str | None
    locale: str | None
    municipality: str | None
    channel: str
    preview: str | None
    preview_author: str | None
    status: str = ownership.OPEN  # open | pending | snoozed | closed
    snoozed_until: datetime | None = None


@dataclass
class Inbox:
    rows: list[Row]
    counts: dict[str, int]
    query: Query
    has_more: bool = False


def _narrowed(base: Select[Any], staff: Staff, query: Query) -> Select[Any]:
    # A web chat visitor is anyone with a browser: until they consent, nobody is there to help.
    base = base.where(staff.scope(), or_(Beneficiary.channel != "web", Beneficiary.consent == "given"))
    if query.locale:
        base = base.where(Beneficiary.locale == query.locale)
    if query.municipality:
        base = base.where(Beneficiary.municipality == query.municipality)
    if query.app:
        base = base.where(Beneficiary.channel == query.app)
    return base


async def counts(session: AsyncSession, staff: Staff, query: Query) -> dict[str, int]:
    """How many conversations each filter holds, counted up to COUNT_CAP (shown as "1000+")."""
    found = {}
    for key, f in FILTERS.items():
        rows = select(Conversation.id).where(f.condition(staff))
        rows = _narrowed(rows.join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id), staff, query)
        capped = rows.limit(COUNT_CAP).subquery()
        found[key] = (await session.execute(select(func.count()).select_from(capped))).scalar_one()
    return found


async def load(session: AsyncSession, staff: Staff, query: Query) -> Inbox:
    chosen = FILTERS.get(query.view)
    condition = chosen.condition(staff) if chosen else false()
    last = (
        select(Message.id)
        .where(Message.conversation_id == Conversation.id)
        .order_by(Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    page = (
        select(Conversation, Beneficiary, last.label("last_id"))
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .where(condition, Conversation.last_message_at.is_not(None))
    )
    page = _narrowed(page, staff, query)
    page = page.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    page = page.offset((query.page - 1) * PAGE).limit(PAGE + 1)
    found = (await session.execute(page)).all()
    previews: dict[int, tuple[str | None, str]] = {}
    last_ids = [r.last_id for r in found[:PAGE] if r.last_id is not None]
    if last_ids:
        for mid, text, author in (
            await session.execute(select(Message.id, Message.text, Message.author).where(Message.id.in_(last_ids)))
        ).all():
            previews[mid] = (text, author)
    rows = []
    for conversation, person, last_id in cast(list[tuple[Conversation, Beneficiary, int | None]], found[:PAGE]):
        text, author = previews.get(last_id, (None, "")) if last_id is not None else (None, "")
        rows.append(
            Row(
                conversation.id,
                conversation.mode,
                conversation.urgent,
                conversation.needs_human,
                conversation.assignee_id,
                list(conversation.labels or []),
                conversation.last_message_at,
                person.display_name,
                person.locale,
                person.municipality,
                person.channel,
                (text or "")[:160] or None,
                author,
                ownership.status_of(conversation),
                conversation.snoozed_until,
            )
        )
    return Inbox(rows, await counts(session, staff, query), query, has_more=len(found) > PAGE)


async def signature(session: AsyncSession) -> str:
    """Changes whenever any conversation changes; live pages compare it, then reload what they may see."""
    latest = (await session.execute(select(func.max(Conversation.updated_at)))).scalar_one()
    return latest.isoformat() if latest else ""
