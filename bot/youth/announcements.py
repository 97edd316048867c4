"""Announcements to a cohort: one message per person with a place, in their language, through the outbox.

Each message is paced by the delivery worker like any other (lane "announcement"), recorded in the
person's transcript under the coordinator's name, and skipped for anyone who stopped messages,
blocked the bot or withdrew consent; the counts are kept with the announcement.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translations, Translator
from bot.outbox import LANE_ANNOUNCEMENT
from bot.text import cyrillic_to_latin
from bot.youth.enrolments import name_in
from bot.youth.notices import send
from db.youth import Cohort, CohortAnnouncement, Enrolment
from handlers.turn import Reply

RECIPIENTS = ("confirmed", "pending_guardian")


@dataclass
class Outcome:
    queued: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def text_for(t: Translator, cohort: Cohort, text_sq: str, text_sr: str) -> str:
    """The coordinators' words in the person's language (Serbian Latin derived from the Cyrillic)."""
    body = text_sq if t.locale == "sq" else cyrillic_to_latin(text_sr) if t.locale == "sr-Latn" else text_sr
    return t.gettext(
        "Message from the coordinators of {group}:\n\n{text}",
        group=name_in(t.locale, cohort.name_sq, cohort.name_sr),
        text=body,
    )


async def announce(
    session: AsyncSession,
    translations: Translations,
    cohort: Cohort,
    text_sq: str,
    text_sr: str,
    author: str,
    now: datetime,
) -> Outcome:
    outcome = Outcome()
    people = (
        await session.execute(
            select(Enrolment.beneficiary_id)
            .where(Enrolment.cohort_id == cohort.id, Enrolment.status.in_(RECIPIENTS))
            .order_by(Enrolment.id)
        )
    ).scalars()
    for beneficiary_id in dict.fromkeys(people):
        skipped = await send(
            session,
            translations,
            beneficiary_id,
            lambda t: Reply(text_for(t, cohort, text_sq, text_sr)),
            now,
            lane=LANE_ANNOUNCEMENT,
            author=f"staff:{author}",
        )
        if skipped is None:
            outcome.queued += 1
        else:
            outcome.skipped[skipped] += 1
    session.add(
        CohortAnnouncement(
            cohort_id=cohort.id,
            text_sq=text_sq,
            text_sr=text_sr,
            author=author,
            queued=outcome.queued,
            skipped=sum(outcome.skipped.values()),
            created_at=now,
        )
    )
    return outcome
