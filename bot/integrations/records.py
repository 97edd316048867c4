"""What the REST API reads: each resource as plain records, in pages that follow on from a cursor.

Every list is ordered by a time and the id (`updated_at` where a row changes, `created_at` where it
is only ever added), so `since=` gives what changed from a moment on and `after=` (the `next`
cursor of the previous page) continues without gaps or repeats while rows are added.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot import ownership
from db.models import Beneficiary, Conversation, Message, Submission
from db.staff import StaffUser
from db.youth import Enrolment, Programme

MAX_LIMIT = 500


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    next: str | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def encode_cursor(at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), row_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(row_id, int):
            raise ValueError
        return when.astimezone(UTC), row_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadCursor("not a cursor this API gave") from exc


async def _page(
    session: AsyncSession,
    query: Select,  # type: ignore[type-arg]
    at: InstrumentedAttribute[Any],
    row_id: InstrumentedAttribute[Any],
    *,
    since: datetime | None,
    after: str | None,
    limit: int,
    since_column: InstrumentedAttribute[Any] | None = None,
) -> tuple[list[Any], str | None]:
    """One page ordered by (`at`, `row_id`); `since` filters on `since_column` (default `at`)."""
    if since is not None:
        query = query.where((since_column if since_column is not None else at) >= since)
    if after:
        when, last = decode_cursor(after)
        if at is row_id:  # ordered by id alone (the transcript: ids grow with time)
            query = query.where(row_id > last)
        else:
            query = query.where(or_(at > when, and_(at == when, row_id > last)))
    order = (row_id,) if at is row_id else (at, row_id)
    rows = list(await session.execute(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        last_row = rows[-1][0]
        when_value = getattr(last_row, at.key)
        if not isinstance(when_value, datetime):
            when_value = datetime.fromtimestamp(0, UTC)
        cursor = encode_cursor(when_value, getattr(last_row, row_id.key))
    return rows, cursor


def _person(p: Beneficiary) -> dict[str, Any]:
    return {
        "id": p.id,
        "channel": p.channel,
        "display_name": p.display_name,
        "locale": p.locale,
        "consent": p.consent,
        "municipality": p.municipality,
        "return_date": p.return_date.isoformat() if p.return_date else None,
        "followup_consent": p.followup_consent,
        "opted_out": p.opted_out,
        "blocked": p.blocked,
        "created_at": _iso(p.created_at),
        "last_contact_at": _iso(p.last_contact_at),
    }


async def people(session: AsyncSession, *, since: datetime | None, after: str | None, limit: int) -> Page:
    rows, cursor = await _page(
        session, select(Beneficiary), Beneficiary.created_at, Beneficiary.id, since=since, after=after, limit=limit
    )
    return Page([_person(p) for (p,) in rows], cursor)


async def conversations(session: AsyncSession, *, since: datetime | None, after: str | None, limit: int) -> Page:
    query = select(Conversation, StaffUser.name).outerjoin(StaffUser, StaffUser.id == Conversation.assignee_id)
    rows, cursor = await _page(
        session, query, Conversation.updated_at, Conversation.id, since=since, after=after, limit=limit
    )
    return Page(
        [
            {
                "id": c.id,
                "person": c.beneficiary_id,
                "mode": c.mode,
                "status": ownership.status_of(c),
                "snoozed_until": _iso(c.snoozed_until),
                "urgent": c.urgent,
                "needs_human": c.needs_human,
                "assignee": assignee,
                "labels": c.labels,
                "handoff_at": _iso(c.handoff_at),
                "created_at": _iso(c.created_at),
                "updated_at": _iso(c.updated_at),
                "last_message_at": _iso(c.last_message_at),
            }
            for c, assignee in rows
        ],
        cursor,
    )


async def messages(
    session: AsyncSession, *, conversation: int | None, since: datetime | None, after: str | None, limit: int
) -> Page:
    query = select(Message)
    if conversation is not None:
        query = query.where(Message.conversation_id == conversation)
    # In id order, which follows time, so that a long transcript table is read along its primary key.
    rows, cursor = await _page(
        session, query, Message.id, Message.id, since=since, after=after, limit=limit, since_column=Message.created_at
    )
    return Page(
        [
            {
                "id": m.id,
                "conversation": m.conversation_id,
                "direction": m.direction,
                "author": m.author,
                "kind": m.kind,
                "text": m.text,
                "status": m.status,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for (m,) in rows
        ],
        cursor,
    )


async def submissions(session: AsyncSession, *, since: datetime | None, after: str | None, limit: int) -> Page:
    rows, cursor = await _page(
        session, select(Submission), Submission.updated_at, Submission.id, since=since, after=after, limit=limit
    )
    return Page(
        [
            {
                "id": s.id,
                "person": s.beneficiary_id,
                "form": s.form_id,
                "wave": s.wave,
                "status": s.status,
                "answers": s.state.get("values", s.state),
                "scores": s.scores,
                "started_at": _iso(s.started_at),
                "updated_at": _iso(s.updated_at),
                "completed_at": _iso(s.completed_at),
            }
            for (s,) in rows
        ],
        cursor,
    )


async def signups(session: AsyncSession, *, since: datetime | None, after: str | None, limit: int) -> Page:
    query = select(Enrolment, Programme.code).join(Programme, Programme.id == Enrolment.programme_id)
    rows, cursor = await _page(
        session, query, Enrolment.updated_at, Enrolment.id, since=since, after=after, limit=limit
    )
    return Page(
        [
            {
                "id": e.id,
                "person": e.beneficiary_id,
                "programme": code,
                "cohort": e.cohort_id,
                "status": e.status,
                "source": e.source,
                "full_name": e.full_name,
                "birth_date": e.birth_date.isoformat() if e.birth_date else None,
                "municipality": e.municipality,
                "media_consent": e.media_consent,
                "guardian": e.guardian_state,
                "created_at": _iso(e.created_at),
                "updated_at": _iso(e.updated_at),
            }
            for e, code in rows
        ],
        cursor,
    )
