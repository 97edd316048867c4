"""The youth programme's scheduler pass: expired offers move on, freed places are offered, reminders go out.

Like the follow-up pass, it reads what is due *now* from the database, so a restart loses nothing.
It acts only inside the daytime window in Kosovo: offers and reminders never arrive at night, and
an offer's deadline is moved into the window too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.followup.schedule import KOSOVO, Policy, into_window
from bot.i18n import Translations, Translator
from bot.youth.enrolments import name_in, offers_due
from bot.youth.notices import send, status_line
from db.session import Database, first_in_line
from db.youth import Cohort, Enrolment, Programme
from handlers.turn import Button, Reply

log = logging.getLogger(__name__)
DAYTIME = Policy()


def offer_deadline(now: datetime, hours: int, policy: Policy = DAYTIME) -> datetime:
    """`hours` from now, moved to the next opening of the daytime window when that falls at night."""
    return into_window(now + timedelta(hours=hours), policy)


class YouthScheduler:
    """Offers freed places to the next in line, lets unanswered offers lapse, reminds the day before."""

    def __init__(
        self,
        db: Database,
        translations: Translations,
        clock: Clock,
        on_queued: Callable[[], None] | None = None,
        policy: Policy = DAYTIME,
    ) -> None:
        self.db = db
        self.translations = translations
        self.clock = clock
        self.on_queued = on_queued
        self.policy = policy

    async def run_once(self) -> dict[str, int]:
        now = self.clock.now()
        counts = {"expired": 0, "offered": 0, "reminded": 0, "skipped": 0}
        if not self.in_window(now):
            return counts  # night in Kosovo: nothing goes out until the window opens
        async with self.db.transaction() as session:
            if not await first_in_line(session, "homeward:youth-pass"):
                return counts  # another process is running this pass right now
            await self._expire(session, now, counts)
            await self._offer(session, now, counts)
            await self._remind(session, now, counts)
        if (counts["offered"] or counts["reminded"] or counts["expired"]) and self.on_queued is not None:
            self.on_queued()
        return counts

    async def _expire(self, session: AsyncSession, now: datetime, counts: dict[str, int]) -> None:
        lapsed = (
            (
                await session.execute(
                    select(Enrolment).where(Enrolment.status == "offered", Enrolment.offer_expires_at <= now)
                )
            )
            .scalars()
            .all()
        )
        for enrolment in lapsed:
            enrolment.status, enrolment.offer_expires_at, enrolment.updated_at = "lapsed", None, now
            counts["expired"] += 1
            await send(
                session,
                self.translations,
                enrolment.beneficiary_id,
                lambda t: Reply(
                    t.gettext(
                        "The time to accept the offered place has passed, so it goes to the next "
                        "person on the waiting list. If you are still interested, you can sign up again "
                        "from the menu."
                    )
                ),
                now,
            )

    async def _offer(self, session: AsyncSession, now: datetime, counts: dict[str, int]) -> None:
        today = now.astimezone(KOSOVO).date()
        cohorts = (
            (
                await session.execute(
                    select(Cohort)
                    .where(Cohort.starts_on > today)
                    .where(Cohort.id.in_(select(Enrolment.cohort_id).where(Enrolment.status == "waiting")))
                )
            )
            .scalars()
            .all()
        )
        for cohort in cohorts:
            for _enrolment, skipped in await self.offer_places(session, cohort, now):
                counts["offered" if skipped is None else "skipped"] += 1

    def in_window(self, now: datetime) -> bool:
        """Whether offers may go out now (daytime in Kosovo)."""
        return into_window(now, self.policy) == now

    async def offer_places(
        self, session: AsyncSession, cohort: Cohort, now: datetime
    ) -> list[tuple[Enrolment, str | None]]:
        """Offer the free places of `cohort` to the first in line; each offer with why it was skipped, if so."""
        made: list[tuple[Enrolment, str | None]] = []
        if cohort.starts_on <= now.astimezone(KOSOVO).date():
            return made  # a group that has begun takes nobody from its waiting list
        programme = await session.get(Programme, cohort.programme_id)
        hours = programme.offer_hours if programme is not None else 48
        # Someone who cannot be reached lapses at once, and the place goes further down the list.
        while offers := await offers_due(session, cohort):
            for enrolment in offers:
                enrolment.status = "offered"
                enrolment.offer_expires_at = offer_deadline(now, hours, self.policy)
                enrolment.updated_at = now
                skipped = await send(
                    session,
                    self.translations,
                    enrolment.beneficiary_id,
                    partial(self._offer_reply, enrolment=enrolment, cohort=cohort),
                    now,
                )
                if skipped is not None:
                    enrolment.status, enrolment.offer_expires_at, enrolment.cancel_reason = "lapsed", None, skipped
                made.append((enrolment, skipped))
            await session.flush()
        return made

    @staticmethod
    def _offer_reply(t: Translator, enrolment: Enrolment, cohort: Cohort) -> Reply:
        text = t.gettext(
            "Good news: a place has become free in the group {group}, starting on {date}.",
            group=name_in(t.locale, cohort.name_sq, cohort.name_sr),
            date=t.date(cohort.starts_on),
        )
        text += " " + status_line(t, enrolment, cohort, None)
        return Reply(
            text,
            [
                [
                    Button(t.gettext("Accept the place"), f"yo:accept:{enrolment.id}"),
                    Button(t.gettext("Decline"), f"yo:decline:{enrolment.id}"),
                ]
            ],
        )

    async def _remind(self, session: AsyncSession, now: datetime, counts: dict[str, int]) -> None:
        tomorrow = now.astimezone(KOSOVO).date() + timedelta(days=1)
        due = (
            await session.execute(
                select(Enrolment, Cohort)
                .join(Cohort, Cohort.id == Enrolment.cohort_id)
                .where(
                    Cohort.starts_on == tomorrow,
                    Enrolment.status.in_(("confirmed", "pending_guardian")),
                    Enrolment.reminded_at.is_(None),
                )
            )
        ).all()
        for enrolment, cohort in due:
            enrolment.reminded_at = now
            skipped = await send(
                session,
                self.translations,
                enrolment.beneficiary_id,
                partial(self._reminder, enrolment=enrolment, cohort=cohort),
                now,
            )
            counts["reminded" if skipped is None else "skipped"] += 1

    @staticmethod
    def _reminder(t: Translator, enrolment: Enrolment, cohort: Cohort) -> Reply:
        text = t.gettext(
            "A reminder: your group {group} starts tomorrow, {date}. We look forward to seeing you!",
            group=name_in(t.locale, cohort.name_sq, cohort.name_sr),
            date=t.date(cohort.starts_on),
        )
        if enrolment.status == "pending_guardian":
            text += "\n\n" + t.gettext(
                "Your parent or guardian has not agreed yet. Please remind them to open "
                "the link you sent them, or send a new one from the menu."
            )
        return Reply(text)
