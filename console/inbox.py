"""The inbox: conversations newest first, narrowed by filters, with a count for each filter.

Filters are a registry (`FILTERS`) of named conditions, so a capability that lands later (such as
"follow-up due") adds its own without touching the page. Every query is limited to the people the
staff member may see.

A page costs four statements whatever the number of filters: the page itself (read down an index
of `last_message_at`, see `db.staff`), the last line of each of its conversations (one index probe
each), how many people are in view, and all the counts in one. The counts are counted in one of two
ways, whichever reads fewer rows: when the people in view are few (one municipality, a caseworker's
own places), one pass over their conversations counts every filter at once; otherwise each filter
counts its own rows up to COUNT_CAP, down its own index (which carries what the filters test), and
stops there. Nothing is cached: a count is as fresh as the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot import ownership
from bot.i18n import N_
from console.access import Staff
from db.models import Beneficiary, Conversation, Message

PAGE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COUNT_CAP = 1000  # beyond this a queue's exact size helps nobody, and counting it costs a scan
# Up to this many people in view, one pass over their conversations counts all filters (it reads them all);
# beyond, each filter counts its own rows up to COUNT_CAP (it reads no more than about COUNT_CAP / share of
# the people in view).
ONE_PASS_UNDER = 20_000
# A page reads down its filter's index newest first, checking each row's person and stopping at the page's
# end, when everyone is in view, when many are, or when the filter holds at least this many of those in view;
# otherwise it reads the conversations of the few people in view and orders the few that match.
PAGE_BY_INDEX_FROM = 200
# Up to this many web visitors yet to consent, counting everyone leaves them out as one set; beyond, each
# counted conversation's person is checked instead.
HIDDEN_SET_UNDER = 2_000


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
    page: int = 1  # counted from the newest; with a cursor, only for the page to show its number
    before: Cursor | None = None  # the page older than this row ("Older")
    after: Cursor | None = None  # the page newer than this row ("Newer")


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: a row's place in the order (last line's time, then id), read on from there by
    the index instead of counting past the rows before it."""

    at: datetime
    conversation_id: int

    def token(self) -> str:
        return f"{(self.at - EPOCH) // timedelta(microseconds=1)}_{self.conversation_id}"

    @classmethod
    def parse(cls, token: str) -> Cursor | None:
        """The cursor of a link, or None when it is not one (a page then starts from the newest)."""
        micros, _, cid = token.partition("_")
        if not (micros.isdigit() and cid.isdigit() and len(micros) <= 18 and len(cid) <= 18):
            return None
        try:
            return cls(EPOCH + timedelta(microseconds=int(micros)), int(cid))
        except OverflowError:
            return None


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
    preview_kind: str = "text"  # a photo, voice message, ... shown by its kind when it has no words


@dataclass
class Inbox:
    rows: list[Row]
    counts: dict[str, int]
    query: Query
    has_more: bool = False  # older rows follow
    has_newer: bool = False  # newer rows come before

    @property
    def older(self) -> str:
        """The cursor of the "Older" link: after the last row shown."""
        return Cursor(self.rows[-1].last_message_at or EPOCH, self.rows[-1].conversation_id).token()

    @property
    def newer(self) -> str:
        """The cursor of the "Newer" link: before the first row shown ("" when none is: from the newest)."""
        return Cursor(self.rows[0].last_message_at or EPOCH, self.rows[0].conversation_id).token() if self.rows else ""


_flagged = aliased(Conversation, name="flagged")


def _in_danger() -> ColumnElement[bool]:
    """The person's conversation is urgent or waits for a caseworker: a web visitor yet to consent gets
    there only by a danger message (a hand-off asked for needs consent), and is shown like anyone else."""
    return (
        select(_flagged.id)
        .where(
            _flagged.beneficiary_id == Beneficiary.id,
            or_(_flagged.urgent.is_(True), _flagged.needs_human.is_(True)),
        )
        .exists()
    )


def _visible() -> ColumnElement[bool]:
    # A web chat visitor is anyone with a browser: until they consent, nobody is there to help, unless they
    # wrote that they are in danger (one probe of their conversation, for them alone: the test comes last).
    return or_(Beneficiary.channel != "web", Beneficiary.consent == "given", _in_danger())


def _narrowing(staff: Staff, query: Query) -> list[ColumnElement[bool]]:
    """The conditions on the person that the staff member's reach and the query add (none: everyone)."""
    found = [staff.scope()] if staff.limited else []
    if query.locale:
        found.append(Beneficiary.locale == query.locale)
    if query.municipality:
        found.append(Beneficiary.municipality == query.municipality)
    if query.app:
        found.append(Beneficiary.channel == query.app)
    return found


def _narrowed(base: Select[Any], staff: Staff, query: Query) -> Select[Any]:
    return base.where(_visible(), *_narrowing(staff, query))


async def in_view(session: AsyncSession, staff: Staff, query: Query) -> int | None:
    """How many people the staff member's reach and the query leave in view, counted no further than
    ONE_PASS_UNDER (read from an index); None when nothing narrows them."""
    narrowing = _narrowing(staff, query)
    return await _at_least(session, select(Beneficiary.id).where(*narrowing), ONE_PASS_UNDER) if narrowing else None


async def counts(
    session: AsyncSession, staff: Staff, query: Query, people: int | Literal["unknown"] | None = "unknown"
) -> dict[str, int]:
    """How many conversations each filter holds, counted up to COUNT_CAP (shown as "1000+").

    Every count in one statement, after how many people are in view (`people`, from `in_view`, when
    the caller has not counted them yet) or, for everyone, how many web visitors are yet to consent.
    """
    hidden = select(Beneficiary.id).where(Beneficiary.channel == "web", Beneficiary.consent != "given", ~_in_danger())
    if people == "unknown":
        people = await in_view(session, staff, query)
    if people is not None:
        if people < ONE_PASS_UNDER:
            return await _counted_in_one_pass(session, staff, query)
        person_by_person = True
    else:
        person_by_person = await _at_least(session, hidden, HIDDEN_SET_UNDER) >= HIDDEN_SET_UNDER
    left_out = hidden.cte("hidden")
    each = []
    for key, f in FILTERS.items():
        rows = select(Conversation.id).where(f.condition(staff))
        if person_by_person:
            # The person checked row by row (a scalar subquery the planners neither flatten nor reorder), so the
            # filter's index leads and stops at COUNT_CAP, instead of reading every person in view first.
            rows = rows.where(_person_in_view(staff, query))
        else:
            # Everyone in view: the filter's index alone answers, leaving out the few web visitors yet to consent.
            rows = rows.where(Conversation.beneficiary_id.not_in(select(left_out.c.id)))
        capped = rows.limit(COUNT_CAP).subquery()
        each.append(select(func.count()).select_from(capped).scalar_subquery().label(key))
    found = (await session.execute(select(*each))).one()
    return {key: int(n) for key, n in zip(FILTERS, found, strict=True)}


async def _at_least(session: AsyncSession, people: Select[Any], cap: int) -> int:
    """How many people these are, counted no further than `cap` (read from an index)."""
    return int((await session.execute(select(func.count()).select_from(people.limit(cap).subquery()))).scalar_one())


async def _counted_in_one_pass(session: AsyncSession, staff: Staff, query: Query) -> dict[str, int]:
    totals = cast(
        Select[Any], select(*(func.count().filter(f.condition(staff)).label(key) for key, f in FILTERS.items()))
    )
    totals = _narrowed(
        totals.select_from(Conversation).join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id), staff, query
    )
    found: tuple[int, ...] = tuple((await session.execute(totals)).one())
    return {key: min(int(n), COUNT_CAP) for key, n in zip(FILTERS, found, strict=True)}


def _person_in_view(staff: Staff, query: Query) -> ColumnElement[bool]:
    """The conversation's person is in view, checked row by row: a scalar subquery, which the planners
    neither flatten nor reorder, so that a filter's index leads (newest first) and the reading stops
    at the page's end or COUNT_CAP, instead of reading every person in view first."""
    person = (
        select(Beneficiary.id)
        .where(Beneficiary.id == Conversation.beneficiary_id, _visible(), *_narrowing(staff, query))
        .correlate(Conversation)
        .scalar_subquery()
    )
    return person.is_not(None)


async def load(session: AsyncSession, staff: Staff, query: Query) -> Inbox:
    chosen = FILTERS.get(query.view)
    condition = chosen.condition(staff) if chosen else false()
    people = await in_view(session, staff, query)
    counted = await counts(session, staff, query, people)
    page = cast(
        Select[Any],
        select(Conversation, Beneficiary)
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .where(condition, Conversation.last_message_at.is_not(None)),
    )
    if people is None or people >= ONE_PASS_UNDER or counted.get(query.view, 0) >= PAGE_BY_INDEX_FROM:
        page = page.where(_person_in_view(staff, query))
    else:  # few in view: read their conversations, then order the few that match
        page = _narrowed(page, staff, query)
    at, cid = Conversation.last_message_at, Conversation.id
    if query.after is not None:  # read upwards from the cursor, then show newest first
        after = query.after
        page = page.where(at >= after.at, or_(at > after.at, cid > after.conversation_id))
        page = page.order_by(at.asc(), cid.asc()).limit(PAGE + 1)
    else:
        page = page.order_by(at.desc(), cid.desc()).limit(PAGE + 1)
        if query.before is not None:
            before = query.before
            page = page.where(at <= before.at, or_(at < before.at, cid < before.conversation_id))
        else:
            page = page.offset((query.page - 1) * PAGE)
    found = cast(list[tuple[Conversation, Beneficiary]], (await session.execute(page)).all())
    more = len(found) > PAGE
    found = found[:PAGE]
    has_more: bool
    has_newer: bool
    if query.after is not None:
        if not more:  # at the top: the newest page, full
            return await load(session, staff, replace(query, page=1, after=None, before=None))
        found.reverse()
        has_more, has_newer = True, more
    else:
        has_more, has_newer = more, query.before is not None or query.page > 1
    previews = await _last_lines(session, [conversation.id for conversation, _ in found])
    rows = []
    for conversation, person in found:
        text, author, kind = previews.get(conversation.id, (None, "", "text"))
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
                kind,
            )
        )
    return Inbox(rows, counted, query, has_more=has_more and bool(rows), has_newer=has_newer)


async def _last_lines(session: AsyncSession, conversation_ids: list[int]) -> dict[int, tuple[str | None, str, str]]:
    """The last line (text, author, kind) of each of these conversations: one probe of the messages index each."""
    if not conversation_ids:
        return {}
    last = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids))
        .group_by(Message.conversation_id)
    )
    found = await session.execute(
        select(Message.conversation_id, Message.text, Message.author, Message.kind).where(Message.id.in_(last))
    )
    return {cid: (text, author, kind) for cid, text, author, kind in found.all()}


async def signature(session: AsyncSession) -> str:
    """Changes whenever any conversation changes; live pages compare it, then reload what they may see."""
    latest = (await session.execute(select(func.max(Conversation.updated_at)))).scalar_one()
    return latest.isoformat() if latest else ""
