"""What coordinators do to a youth programme, shared by `homeward youth …` and the console.

Each action checks its input, changes the records inside the caller's transaction, writes the
audit entry with the actor `staff:<name>` and queues what the chat says to the people concerned.
A refusal raises `Refused` with a reason from `REASONS` (English msgids: the command line prints
them as they are, the console in the staff member's language) before anything is changed.

`may_reach` says whether the acting staff member may act in a municipality (None: a cohort open
to any); the command line reaches everywhere, the console passes the signed-in person's scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translations
from bot.youth.announcements import Outcome, announce, text_for
from bot.youth.enrolments import cancel, holding, lock_cohort, status_with_place, waiting_position
from bot.youth.notices import send, status_line
from bot.youth.waiting import ACTIVE, HOLDING
from db.models import AuditEntry
from db.youth import Cohort, Enrolment, Programme
from handlers.turn import Reply

Reach = Callable[[str | None], bool]
CANCELLABLE = (*ACTIVE, "duplicate", "choosing")
PREVIEW_LOCALES = ("sq", "sr-Cyrl", "sr-Latn")

REASONS = {
    "code_taken": N_("A programme with the code {code} exists already."),
    "code_missing": N_("Give the programme a short code."),
    "names_missing": N_("Write the name in Albanian and in Serbian."),
    "ages": N_("The age range must be like 15 to 24."),
    "offer_hours": N_("The time to answer an offer must be at least one hour."),
    "no_programme": N_("There is no programme with the code {code}."),
    "no_municipality": N_("The municipality {municipality} is unknown."),
    "capacity": N_("A group needs at least one place."),
    "capacity_taken": N_("Places already taken: {taken}. The group cannot have fewer places."),
    "dates": N_("The group cannot end before it starts."),
    "no_date": N_("Give the start date, and the end date if there is one, as day, month and year."),
    "no_cohort": N_("There is no group {number}."),
    "no_signup": N_("There is no active sign-up {number}."),
    "no_guardian_needed": N_("Sign-up {number} is of someone 18 or older: no guardian consent is needed."),
    "out_of_reach": N_("This is outside the municipalities you work for."),
    "empty_text": N_("Write the announcement in both languages: Albanian and Serbian."),
    "segment": N_("Choose who gets the message from the lists offered."),
    "text_too_long": N_("The message is too long: at most {limit} characters in each language."),
    "not_cyrillic": N_("Write the Serbian text in Cyrillic. Readers of the Latin script get it transliterated."),
    "not_previewed": N_(
        "This is not the text or the segment you previewed, so nothing was sent. Preview the broadcast again."
    ),
}


class Refused(Exception):
    """An action refused before anything changed; `reason` is a key of `REASONS`."""

    def __init__(self, reason: str, **values: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values

    def english(self) -> str:
        return REASONS[self.reason].format(**self.values)


def everywhere(_municipality: str | None) -> bool:
    return True


def audit(session: AsyncSession, who: str, action: str, target: str, now: datetime, **detail: Any) -> None:
    session.add(AuditEntry(at=now, actor=f"staff:{who}", action=action, target=target, detail=detail or None))


async def programme_by_code(session: AsyncSession, code: str) -> Programme | None:
    return (await session.execute(select(Programme).where(Programme.code == code))).scalar_one_or_none()


async def add_programme(
    session: AsyncSession,
    who: str,
    now: datetime,
    *,
    code: str,
    name_sq: str,
    name_sr: str,
    min_age: int,
    max_age: int,
    offer_hours: int,
) -> Programme:
    code, name_sq, name_sr = code.strip(), name_sq.strip(), name_sr.strip()
    if not code:
        raise Refused("code_missing")
    if not name_sq or not name_sr:
        raise Refused("names_missing")
    if not 0 < min_age <= max_age:
        raise Refused("ages")
    if offer_hours < 1:
        raise Refused("offer_hours")
    if await programme_by_code(session, code) is not None:
        raise Refused("code_taken", code=code)
    programme = Programme(
        code=code,
        name_sq=name_sq,
        name_sr=name_sr,
        min_age=min_age,
        max_age=max_age,
        offer_hours=offer_hours,
        active=True,
        created_at=now,
    )
    session.add(programme)
    await session.flush()
    audit(session, who, "youth.programme_add", f"programme:{programme.id}", now, code=code)
    return programme


async def add_cohort(
    session: AsyncSession,
    who: str,
    now: datetime,
    *,
    programme_code: str,
    name_sq: str,
    name_sr: str,
    municipality: str | None,
    known_municipality: Callable[[str], bool],
    starts: date,
    ends: date | None,
    capacity: int,
    may_reach: Reach = everywhere,
) -> Cohort:
    programme = await programme_by_code(session, programme_code)
    if programme is None:
        raise Refused("no_programme", code=programme_code)
    name_sq, name_sr = name_sq.strip(), name_sr.strip()
    if not name_sq or not name_sr:
        raise Refused("names_missing")
    if municipality is not None and not known_municipality(municipality):
        raise Refused("no_municipality", municipality=municipality)
    if not may_reach(municipality):
        raise Refused("out_of_reach")
    if capacity < 1:
        raise Refused("capacity")
    if ends is not None and ends < starts:
        raise Refused("dates")
    cohort = Cohort(
        programme_id=programme.id,
        name_sq=name_sq,
        name_sr=name_sr,
        municipality=municipality,
        starts_on=starts,
        ends_on=ends,
        capacity=capacity,
        created_at=now,
    )
    session.add(cohort)
    await session.flush()
    audit(session, who, "youth.cohort_add", f"cohort:{cohort.id}", now, programme=programme_code)
    return cohort


async def _sign_up(session: AsyncSession, signup_id: int, statuses: tuple[str, ...], may_reach: Reach) -> Enrolment:
    enrolment = await session.get(Enrolment, signup_id)
    if enrolment is None or enrolment.status not in statuses:
        raise Refused("no_signup", number=signup_id)
    cohort = await session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id is not None else None
    # As on the youth page: a cohort of the municipality, or in a cohort open to any, a person from there.
    where = cohort.municipality if cohort is not None and cohort.municipality is not None else enrolment.municipality
    if not may_reach(where):
        raise Refused("out_of_reach")
    return enrolment


@dataclass(frozen=True)
class Confirmed:
    enrolment: Enrolment
    skipped: str | None  # why the young person was not told; None when the message was queued


async def confirm_guardian(
    session: AsyncSession,
    translations: Translations,
    who: str,
    now: datetime,
    signup_id: int,
    *,
    media: bool,
    may_reach: Reach = everywhere,
) -> Confirmed:
    """A parent's or guardian's consent given outside the chat; the young person is told in their language."""
    enrolment = await _sign_up(session, signup_id, ACTIVE, may_reach)
    if enrolment.guardian_state == "not_needed":
        raise Refused("no_guardian_needed", number=signup_id)
    enrolment.guardian_state, enrolment.guardian_confirmed_at = "confirmed", now
    enrolment.guardian_confirmed_by = f"staff:{who}"
    enrolment.guardian_token_hash = None
    enrolment.media_consent = bool(enrolment.media_consent and media)
    if enrolment.status == "pending_guardian":
        enrolment.status = status_with_place(enrolment)
    enrolment.updated_at = now
    cohort = await session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id else None
    position = await waiting_position(session, enrolment)
    skipped = await send(
        session,
        translations,
        enrolment.beneficiary_id,
        lambda t: Reply(
            t.gettext("Your parent or guardian has agreed.") + " " + status_line(t, enrolment, cohort, position)
        ),
        now,
    )
    audit(session, who, "youth.guardian_confirm", f"signup:{enrolment.id}", now, media="yes" if media else "no")
    return Confirmed(enrolment, skipped)


@dataclass(frozen=True)
class Cancelled:
    enrolment: Enrolment
    held_place: bool  # the place it held goes to the next in line


async def cancel_sign_up(
    session: AsyncSession, who: str, now: datetime, signup_id: int, *, may_reach: Reach = everywhere
) -> Cancelled:
    """The sign-up ends; a place it held is offered to the next in line by the youth scheduler's pass."""
    enrolment = await _sign_up(session, signup_id, CANCELLABLE, may_reach)
    held = enrolment.status in HOLDING
    cancel(enrolment, now, "coordinator")
    audit(session, who, "youth.cancel", f"signup:{enrolment.id}", now)
    await session.flush()
    return Cancelled(enrolment, held)


async def cohort_within_reach(session: AsyncSession, cohort_id: int, may_reach: Reach = everywhere) -> Cohort:
    cohort = await session.get(Cohort, cohort_id)
    if cohort is None:
        raise Refused("no_cohort", number=cohort_id)
    if not may_reach(cohort.municipality):
        raise Refused("out_of_reach")
    return cohort


async def change_capacity(
    session: AsyncSession, who: str, now: datetime, cohort_id: int, capacity: int, *, may_reach: Reach = everywhere
) -> Cohort:
    """A group's number of places; never below the places already taken (more places go to those waiting)."""
    cohort = await cohort_within_reach(session, cohort_id, may_reach)
    locked = await lock_cohort(session, cohort.id) or cohort
    taken = await holding(session, cohort.id)
    if capacity < 1:
        raise Refused("capacity")
    if capacity < taken:
        raise Refused("capacity_taken", taken=taken)
    before, locked.capacity = locked.capacity, capacity
    audit(session, who, "youth.cohort_capacity", f"cohort:{cohort.id}", now, before=before, after=capacity)
    await session.flush()
    return locked


def check_announcement(text_sq: str, text_sr: str) -> tuple[str, str]:
    """Both texts, trimmed; refused when either is empty (nobody may get an empty message)."""
    text_sq, text_sr = text_sq.strip(), text_sr.strip()
    if not text_sq or not text_sr:
        raise Refused("empty_text")
    return text_sq, text_sr


def preview(translations: Translations, cohort: Cohort, text_sq: str, text_sr: str) -> dict[str, str]:
    """The message as each reader gets it: Albanian, Serbian Cyrillic and Serbian Latin."""
    return {locale: text_for(translations(locale), cohort, text_sq, text_sr) for locale in PREVIEW_LOCALES}


async def announce_to_cohort(
    session: AsyncSession,
    translations: Translations,
    who: str,
    now: datetime,
    cohort_id: int,
    text_sq: str,
    text_sr: str,
    *,
    may_reach: Reach = everywhere,
) -> Outcome:
    """One message to everyone with a place in the cohort, in the announcement lane of the outbox."""
    cohort = await cohort_within_reach(session, cohort_id, may_reach)
    text_sq, text_sr = check_announcement(text_sq, text_sr)
    outcome = await announce(session, translations, cohort, text_sq, text_sr, who, now)
    audit(
        session,
        who,
        "youth.announce",
        f"cohort:{cohort.id}",
        now,
        queued=outcome.queued,
        skipped=dict(outcome.skipped),
    )
    return outcome
