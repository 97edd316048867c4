"""Sign-ups in the database: placing a person in a cohort or on its waiting list, cancelling, guardian links.

The rules come from `bot.youth.waiting` and `bot.youth.eligibility`; this module applies them
inside the caller's transaction and never commits. Counting places and queueing run in the
same transaction as the change they decide, so two people cannot take the last place twice on
PostgreSQL (the cohort row is locked while places are counted).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.text import cyrillic_to_latin, fold
from bot.youth.waiting import ACTIVE, HOLDING, Waiting, gets_place, next_offers, position
from db.youth import Cohort, Enrolment, Programme

GUARDIAN_LINK_DAYS = 7
GUARDIAN_PREFIX = "g_"
YOUTH_PAYLOAD = "youth"


def name_in(locale: str, name_sq: str, name_sr: str) -> str:
    """A programme or cohort name in the person's language and script (Serbian is stored in Cyrillic)."""
    if locale == "sq":
        return name_sq
    return cyrillic_to_latin(name_sr) if locale == "sr-Latn" else name_sr


def youth_source(payload: str) -> str | None:
    """`youth` → "link", `youth_school12` → "school12"; None for any other payload."""
    if payload == YOUTH_PAYLOAD:
        return "link"
    if payload.startswith(YOUTH_PAYLOAD + "_") and len(payload) > len(YOUTH_PAYLOAD) + 1:
        return payload[len(YOUTH_PAYLOAD) + 1 :][:64]
    return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_guardian_link(enrolment: Enrolment, now: datetime) -> str:
    """A fresh one-time token for the guardian (any earlier one stops working); only its hash is kept."""
    token = secrets.token_urlsafe(16)
    enrolment.guardian_token_hash = token_hash(token)
    enrolment.guardian_token_expires_at = now + timedelta(days=GUARDIAN_LINK_DAYS)
    enrolment.guardian_claimed_by = None
    return token


async def by_guardian_token(session: AsyncSession, token: str) -> Enrolment | None:
    if not token:
        return None
    found = await session.execute(select(Enrolment).where(Enrolment.guardian_token_hash == token_hash(token)))
    return found.scalar_one_or_none()


async def active_programmes(session: AsyncSession) -> list[Programme]:
    found = await session.execute(select(Programme).where(Programme.active.is_(True)).order_by(Programme.id))
    return list(found.scalars())


async def person_enrolments(
    session: AsyncSession,
    beneficiary_id: int,
    *,
    statuses: tuple[str, ...] = ACTIVE,
    programme_id: int | None = None,
) -> list[Enrolment]:
    query = select(Enrolment).where(Enrolment.beneficiary_id == beneficiary_id, Enrolment.status.in_(statuses))
    if programme_id is not None:
        query = query.where(Enrolment.programme_id == programme_id)
    return list((await session.execute(query.order_by(Enrolment.id))).scalars())


async def same_person_elsewhere(session: AsyncSession, enrolment: Enrolment) -> Enrolment | None:
    """An active sign-up to the same programme with the same name and date of birth (another phone)."""
    if enrolment.full_name is None or enrolment.birth_date is None:
        return None
    candidates = await session.execute(
        select(Enrolment).where(
            Enrolment.programme_id == enrolment.programme_id,
            Enrolment.id != enrolment.id,
            Enrolment.birth_date == enrolment.birth_date,
            Enrolment.status.in_(ACTIVE),
        )
    )
    name = " ".join(fold(enrolment.full_name).split())
    return next((e for e in candidates.scalars() if " ".join(fold(e.full_name or "").split()) == name), None)


async def open_cohorts(session: AsyncSession, programme_id: int, municipality: str | None, today: date) -> list[Cohort]:
    """Cohorts not yet started, in the person's municipality or open to any, soonest first."""
    query = select(Cohort).where(Cohort.programme_id == programme_id, Cohort.starts_on > today)
    cohorts = (await session.execute(query.order_by(Cohort.starts_on, Cohort.id))).scalars()
    return [c for c in cohorts if c.municipality is None or c.municipality == municipality]


async def holding(session: AsyncSession, cohort_id: int) -> int:
    found = await session.execute(
        select(func.count())
        .select_from(Enrolment)
        .where(Enrolment.cohort_id == cohort_id, Enrolment.status.in_(HOLDING))
    )
    return int(found.scalar_one())


async def waiting_list(session: AsyncSession, cohort_id: int) -> list[Waiting]:
    found = await session.execute(
        select(Enrolment.id, Enrolment.waiting_since).where(
            Enrolment.cohort_id == cohort_id, Enrolment.status == "waiting"
        )
    )
    return [Waiting(eid, since) for eid, since in found.all() if since is not None]


async def waiting_position(session: AsyncSession, enrolment: Enrolment) -> int | None:
    if enrolment.status != "waiting" or enrolment.cohort_id is None:
        return None
    return position(await waiting_list(session, enrolment.cohort_id), enrolment.id)


async def lock_cohort(session: AsyncSession, cohort_id: int) -> Cohort | None:
    """The cohort, locked for this transaction where the database can (places are counted under the lock)."""
    locking = session.bind is not None and session.bind.dialect.name != "sqlite"
    return await session.get(Cohort, cohort_id, with_for_update=locking, populate_existing=locking)


def status_with_place(enrolment: Enrolment) -> str:
    """Confirmed, unless a guardian still has to agree."""
    return "pending_guardian" if enrolment.guardian_state == "pending" else "confirmed"


async def place(session: AsyncSession, enrolment: Enrolment, cohort: Cohort, now: datetime) -> None:
    """Give `enrolment` a place in `cohort`, or put it at the end of the cohort's waiting list."""
    locked = await lock_cohort(session, cohort.id) or cohort
    free = gets_place(locked.capacity, await holding(session, cohort.id), len(await waiting_list(session, cohort.id)))
    enrolment.cohort_id = cohort.id
    enrolment.status = status_with_place(enrolment) if free else "waiting"
    enrolment.waiting_since = None if free else now
    enrolment.offer_expires_at = None
    enrolment.updated_at = now


def cancel(enrolment: Enrolment, now: datetime, reason: str) -> None:
    """The sign-up ends; a place it held is offered onward by the next scheduler pass."""
    enrolment.status = "cancelled"
    enrolment.cancelled_at = now
    enrolment.cancel_reason = reason
    enrolment.offer_expires_at = None
    enrolment.guardian_token_hash = None
    enrolment.updated_at = now


async def offers_due(session: AsyncSession, cohort: Cohort) -> list[Enrolment]:
    """The people first in line for the places that are free in `cohort` now (cohort locked)."""
    locked = await lock_cohort(session, cohort.id) or cohort
    ids = next_offers(locked.capacity, await holding(session, cohort.id), await waiting_list(session, cohort.id))
    return [e for i in ids if (e := await session.get(Enrolment, i)) is not None]
