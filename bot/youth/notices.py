"""What the youth programme tells people outside their own turn: offers, guardian outcomes, reminders.

Each message is rendered in the recipient's language and script, appended to their transcript and
queued in the outbox in the caller's transaction. A person who blocked the bot, stopped messages,
or has no chat on record is skipped, and the reason is returned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translations, Translator
from bot.outbox import LANE_FOLLOWUP, queue_reply
from bot.youth.enrolments import name_in
from db.models import Beneficiary, Conversation
from db.youth import Cohort, Enrolment, Programme
from handlers.turn import Reply


def skip_reason(person: Beneficiary | None) -> str | None:
    """Why a message may not go to this person, or None when it may."""
    if person is None or person.chat_id is None or person.consent != "given":
        return "no_consent"
    if person.blocked:
        return "blocked"
    if person.opted_out:
        return "opted_out"
    return None


async def send(
    session: AsyncSession,
    translations: Translations,
    beneficiary_id: int,
    build: Callable[[Translator], Reply],
    now: datetime,
    *,
    lane: int = LANE_FOLLOWUP,
    author: str = "bot",
) -> str | None:
    """Queue `build(translator)` for one person; returns the skip reason, or None when it was queued."""
    person = await session.get(Beneficiary, beneficiary_id)
    reason = skip_reason(person)
    if reason is not None or person is None:
        return reason
    conversation = (
        await session.execute(select(Conversation).where(Conversation.beneficiary_id == person.id))
    ).scalar_one_or_none()
    if conversation is None:
        return "no_consent"
    reply = build(translations(person.locale or "sq"))
    await queue_reply(
        session,
        person=person,
        conversation=conversation,
        chat_id=person.chat_id or "",
        reply=reply,
        now=now,
        author=author,
        lane=lane,
    )
    return None


def status_line(t: Translator, enrolment: Enrolment, cohort: Cohort | None, waiting_position: int | None) -> str:
    """One sentence saying where a sign-up stands."""
    status = enrolment.status
    if status == "confirmed":
        return t.gettext("Your place is confirmed.")
    if status == "pending_guardian":
        return t.gettext("Your place is kept for you. It will be confirmed when your parent or guardian agrees.")
    if status == "offered" and enrolment.offer_expires_at is not None:
        return t.gettext(
            "A place is free for you. Please accept it by {deadline}.",
            deadline=t.datetime(enrolment.offer_expires_at),
        )
    if status == "waiting" and waiting_position is not None:
        ahead = waiting_position - 1
        line = t.gettext(
            "The group is full, so you are on the waiting list, in position {position}.",
            position=waiting_position,
        )
        if ahead == 0:
            return line + " " + t.gettext("You are first in line.")
        return line + " " + t.ngettext("{n} person is ahead of you.", "{n} people are ahead of you.", ahead)
    if status == "interested":
        return t.gettext(
            "There is no open group in your area at the moment. "
            "The coordinators have your sign-up and will contact you."
        )
    if status == "duplicate":
        return t.gettext(
            "A sign-up with the same name and date of birth already exists. "
            "A coordinator will check it and contact you."
        )
    if status == "lapsed":
        return t.gettext("The time to accept the offered place has passed.")
    return t.gettext("This sign-up is cancelled.")


def group_line(t: Translator, programme: Programme, cohort: Cohort | None, place: str | None) -> str:
    """Programme, group, its start date and where it takes place."""
    if cohort is None:
        return t.gettext("Programme: {programme}", programme=name_in(t.locale, programme.name_sq, programme.name_sr))
    return t.gettext(
        "Programme: {programme}\nGroup: {group}, starting on {date}\nWhere: {place}",
        programme=name_in(t.locale, programme.name_sq, programme.name_sr),
        group=name_in(t.locale, cohort.name_sq, cohort.name_sr),
        date=t.date(cohort.starts_on),
        place=place or t.gettext("any municipality"),
    )
