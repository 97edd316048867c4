"""Follow-up contacts in the database: planning waves from a return date, and the due-contact pass.

The plan lives in `followup_contacts`, not in memory, so a restart loses nothing: the scheduler's
pass (`FollowupScheduler.run_once`) looks at what is due *now* and acts — invite, remind, expire,
or skip with a reason (opted out, in hand-off with a caseworker, already answered, bot blocked).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.followup.schedule import Policy, into_window, plan_waves
from bot.i18n import Translations
from bot.outbox import LANE_FOLLOWUP, queue_reply
from db.models import Beneficiary, Conversation, FollowupContact, Submission
from db.session import Database, first_in_line
from handlers.turn import Button, Reply

log = logging.getLogger(__name__)
FORM_ID = "reintegration_followup"
RECENTLY_ANSWERED = timedelta(days=45)
PAGE = 500  # due contacts handled per transaction


async def set_return_date(
    session: AsyncSession, person: Beneficiary, returned: date, now: datetime, policy: Policy = Policy()
) -> list[FollowupContact]:
    """Record the return date and (re)plan every wave not yet sent; returns the planned contacts."""
    person.return_date = returned
    # Waves already sent or answered stand; everything else is planned again from the new date
    # (a mistyped date, or follow-ups stopped and started again, must not leave waves skipped for good).
    await session.execute(
        delete(FollowupContact).where(
            FollowupContact.beneficiary_id == person.id,
            FollowupContact.status.in_(("planned", "skipped", "expired")),
            FollowupContact.submission_id.is_(None),
        )
    )
    done = set(
        (
            await session.execute(select(FollowupContact.wave).where(FollowupContact.beneficiary_id == person.id))
        ).scalars()
    )
    contacts = []
    for plan in plan_waves(returned, now, policy):
        if plan.wave in done:
            continue
        contact = FollowupContact(
            beneficiary_id=person.id,
            wave=plan.wave,
            months=plan.months,
            due_at=plan.due_at,
            expires_at=plan.expires_at,
            reminders=[r.isoformat() for r in plan.reminders],
            status="planned" if plan.status == "planned" else "skipped",
            reason=plan.reason,
            updated_at=now,
        )
        session.add(contact)
        contacts.append(contact)
    await session.flush()
    return contacts


def bring_forward(contact: FollowupContact, now: datetime, policy: Policy = Policy()) -> None:
    """A caseworker's choice: this wave is due now (started early, or sent again after a skip or expiry).

    It then runs as any wave: invited at the next pass in the daytime window, with its reminders and
    its full time to answer counted from now.
    """
    contact.status, contact.reason = "planned", None
    contact.due_at = now
    contact.expires_at = max(contact.expires_at, now + timedelta(days=policy.valid_days))
    contact.reminders = [(now + timedelta(days=d)).isoformat() for d in policy.reminder_days]
    contact.sent_at = None
    contact.updated_at = now


def _skip_reason(person: Beneficiary, conversation: Conversation | None) -> str | None:
    if person.blocked:
        return "blocked"
    if person.opted_out or person.consent != "given" or person.followup_consent is not True:
        return "opted_out"
    if person.chat_id is None:
        return "opted_out"
    return None


class FollowupScheduler:
    """Invites people to their follow-up waves, reminds them, and closes what expired."""

    def __init__(
        self,
        db: Database,
        translations: Translations,
        clock: object,
        on_queued: object = None,
        policy: Policy = Policy(),
    ) -> None:
        self.db = db
        self.translations = translations
        self.clock = clock
        self.on_queued = on_queued
        self.policy = policy

    def _in_window(self, now: datetime) -> bool:
        return into_window(now, self.policy) == now

    async def run_once(self) -> dict[str, int]:
        """One pass over due contacts; returns counts of what it did."""
        now: datetime = self.clock.now()  # type: ignore[attr-defined]
        counts = {"invited": 0, "reminded": 0, "expired": 0, "skipped": 0}
        # Page through every open contact that is due: people still thinking about an invitation
        # must not hide the contacts behind them. Each page commits on its own. On PostgreSQL its
        # contacts are locked, and those a turn holds right now (say, a person stopping follow-ups)
        # are left for the next pass: the pass never writes over a decision it did not see.
        last_id = 0
        while True:
            async with self.db.transaction() as session:
                if not await first_in_line(session, "homeward:followup-pass"):
                    break  # another process is running this pass right now
                query = (
                    select(FollowupContact)
                    .where(FollowupContact.status.in_(("planned", "sent")), FollowupContact.id > last_id)
                    .where((FollowupContact.due_at <= now) | (FollowupContact.expires_at <= now))
                    .order_by(FollowupContact.id)
                    .limit(PAGE)
                )
                if not self.db.is_sqlite:
                    query = query.with_for_update(skip_locked=True, of=FollowupContact)
                due = (await session.execute(query)).scalars().all()
                if not due:
                    break
                for contact in due:
                    await self._handle(session, contact, now, counts)
                last_id = due[-1].id
        if (counts["invited"] or counts["reminded"]) and callable(self.on_queued):
            self.on_queued()
        return counts

    async def _handle(
        self, session: AsyncSession, contact: FollowupContact, now: datetime, counts: dict[str, int]
    ) -> None:
        person = await session.get(Beneficiary, contact.beneficiary_id)
        conversation = (
            await session.execute(select(Conversation).where(Conversation.beneficiary_id == contact.beneficiary_id))
        ).scalar_one_or_none()
        if person is None or conversation is None:
            return
        submission = await session.get(Submission, contact.submission_id) if contact.submission_id else None
        if submission is not None and submission.status == "completed":
            contact.status, contact.reason, contact.updated_at = "answered", None, now
            return
        if contact.expires_at <= now:
            in_handoff = conversation.mode == "human"
            contact.status = "skipped" if in_handoff and contact.status == "planned" else "expired"
            contact.reason = "handoff" if contact.status == "skipped" else "expired"
            contact.updated_at = now
            counts["expired"] += 1
            return
        reason = _skip_reason(person, conversation)
        if reason is not None:
            contact.status, contact.reason, contact.updated_at = "skipped", reason, now
            counts["skipped"] += 1
            return
        if contact.status == "planned" and await self._recently_answered(session, person.id, now):
            contact.status, contact.reason, contact.updated_at = "skipped", "answered", now
            counts["skipped"] += 1
            return
        if conversation.mode == "human" or not self._in_window(now):
            return  # a caseworker has the conversation, or it is night in Kosovo: try again later
        t = self.translations(person.locale or "sq")
        if contact.status == "planned":
            text = t.ngettext(
                "It has been {n} month since you came back. We would like to know how you are doing. "
                "The questions take about 5 minutes, and every answer is voluntary.",
                "It has been {n} months since you came back. We would like to know how you are doing. "
                "The questions take about 5 minutes, and every answer is voluntary.",
                contact.months,
            )
            contact.status, contact.sent_at = "sent", now
            counts["invited"] += 1
        else:
            reminders = [r for r in contact.reminders if datetime.fromisoformat(r) > now]
            if len(reminders) == len(contact.reminders):
                return  # no reminder is due yet
            contact.reminders = reminders
            text = t.gettext(
                "A reminder: your follow-up questions are still waiting for you. "
                "You can answer them whenever it suits you, until {date}.",
                date=t.date(contact.expires_at.astimezone(t.tz).date()),
            )
            counts["reminded"] += 1
        contact.updated_at = now
        reply = Reply(
            text,
            [
                [
                    Button(t.gettext("Start now"), f"fu:start:{contact.id}"),
                    Button(t.gettext("Not now"), f"fu:later:{contact.id}"),
                ]
            ],
        )
        await queue_reply(
            session,
            person=person,
            conversation=conversation,
            chat_id=person.chat_id or "",
            reply=reply,
            now=now,
            lane=LANE_FOLLOWUP,
        )

    async def _recently_answered(self, session: AsyncSession, beneficiary_id: int, now: datetime) -> bool:
        latest = (
            await session.execute(
                select(Submission.completed_at)
                .where(
                    Submission.beneficiary_id == beneficiary_id,
                    Submission.form_id == FORM_ID,
                    Submission.status == "completed",
                )
                .order_by(Submission.completed_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return latest is not None and now - latest < RECENTLY_ANSWERED
