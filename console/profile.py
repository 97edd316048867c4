"""What the conversation page shows about the person beside the transcript, and the return date.

The follow-up schedule (each wave, when it is due, its status and why it was skipped), the scores
of each follow-up questionnaire, and the person's youth sign-ups with their waiting-list turn and
guardian consent. Setting the return date (re)plans the waves through `bot.followup.contacts`,
the same code the chat uses, and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.followup import contacts
from bot.followup.contacts import FORM_ID
from bot.followup.schedule import KOSOVO
from bot.youth.enrolments import waiting_position
from console import audit
from console.access import Staff
from console.conversations import Refused, acting
from console.followups import DIMENSIONS, score
from db.models import FollowupContact, Submission
from db.youth import Cohort, Enrolment, Programme

EARLIEST_RETURN = date(1990, 1, 1)


@dataclass(frozen=True)
class Scored:
    """One follow-up questionnaire of the person: its wave, progress and scores (0–1)."""

    submission_id: int
    wave: int | None
    status: str
    completed_at: datetime | None
    scores: dict[str, float | None]


@dataclass(frozen=True)
class SignUp:
    enrolment: Enrolment
    programme: Programme
    cohort: Cohort | None
    waiting_position: int | None


@dataclass(frozen=True)
class Profile:
    schedule: list[FollowupContact]
    scored: list[Scored]
    sign_ups: list[SignUp]


async def load(session: AsyncSession, person_id: int) -> Profile:
    schedule = list(
        (
            await session.execute(
                select(FollowupContact)
                .where(FollowupContact.beneficiary_id == person_id)
                .order_by(FollowupContact.wave)
            )
        ).scalars()
    )
    submissions = (
        await session.execute(
            select(Submission)
            .where(Submission.beneficiary_id == person_id, Submission.form_id == FORM_ID)
            .order_by(Submission.id)
        )
    ).scalars()
    scored = [
        Scored(
            s.id,
            s.wave,
            s.status,
            s.completed_at,
            {d: score((s.scores or {}).get(d)) for d in DIMENSIONS},
        )
        for s in submissions
    ]
    found = await session.execute(
        select(Enrolment, Programme, Cohort)
        .join(Programme, Programme.id == Enrolment.programme_id)
        .outerjoin(Cohort, Cohort.id == Enrolment.cohort_id)
        .where(Enrolment.beneficiary_id == person_id, Enrolment.status != "draft")
        .order_by(Enrolment.id)
    )
    sign_ups = [
        SignUp(enrolment, programme, cohort, await waiting_position(session, enrolment))
        for enrolment, programme, cohort in found.all()
    ]
    return Profile(schedule, scored, sign_ups)


def latest_return(now: datetime) -> date:
    """Today in Kosovo: nobody's return date lies after it."""
    return now.astimezone(KOSOVO).date()


def parse_return_date(value: str, now: datetime) -> date:
    """An ISO date (as a date field sends it) that is not in the future in Kosovo; Refused otherwise."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise Refused("return_date") from exc
    if not EARLIEST_RETURN <= day <= latest_return(now):
        raise Refused("return_date")
    return day


async def set_return_date(session: AsyncSession, staff: Staff, conversation_id: int, value: str, now: datetime) -> None:
    """Record the person's return date and (re)plan the follow-up waves not yet sent."""
    _, person = await acting(session, staff, conversation_id, now)
    day = parse_return_date(value, now)
    previous = person.return_date
    planned = await contacts.set_return_date(session, person, day, now)
    audit.record(
        session,
        actor=staff.actor,
        action="person.return_date",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={
            "from": previous.isoformat() if previous else None,
            "to": day.isoformat(),
            "waves": [c.wave for c in planned],
        },
    )


async def send_wave_now(
    session: AsyncSession, staff: Staff, conversation_id: int, contact_id: int, now: datetime
) -> None:
    """Start a follow-up wave early, or send a skipped or expired one again, for this one person."""
    conversation, person = await acting(session, staff, conversation_id, now)
    contact = await session.get(FollowupContact, contact_id, with_for_update=True)
    if contact is None or contact.beneficiary_id != person.id:
        raise LookupError(contact_id)
    if contact.status not in ("planned", "skipped", "expired"):
        raise Refused("wave_done")
    if person.blocked or person.opted_out or person.consent != "given" or person.followup_consent is not True:
        raise Refused("followup_unreachable")
    if conversation.mode == "human":
        raise Refused("wave_in_handoff")  # the bot asks the questions, and stays silent while a caseworker has it
    previous = (contact.status, contact.reason)
    contacts.bring_forward(contact, now)
    audit.record(
        session,
        actor=staff.actor,
        action="followup.send_now",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"wave": contact.wave, "was": previous[0], "reason": previous[1]},
    )
