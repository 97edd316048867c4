"""Broadcasts: one message from coordinators to a segment of people, through the outbox's announcement lane.

A segment picks people by language, municipality, youth cohort, follow-up status in a wave and
channel, within the municipalities of the staff member who sends. Everyone in it gets a recipient
row: the transcript line queued for them (the text in their language and script, under the author
`broadcast:<name>`), or why they were skipped — they erased their data, gave no consent, stopped
messages, blocked the bot (on Viber: unsubscribed), or are on WhatsApp outside the 24-hour window
with no approved announcement template for their language. Those are the rules the youth
programme's notices and the WhatsApp sender apply (`bot.youth.notices.skip_reason`,
`bot.channels.whatsapp`), checked here before anything is queued so the count before sending is true.

The delivery worker sends the lines at each channel's limits, after replies and caseworkers'
messages (`LANE_ANNOUNCEMENT`). The counts read each line's delivery status: queued, sent, failed,
or skipped at sending (the window closed in the meantime, the person blocked the bot or was erased).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import LANE_ANNOUNCEMENT, PURPOSES, WINDOWS, queue_reply
from bot.youth.coordination import PREVIEW_LOCALES, Refused, check_announcement
from bot.youth.enrolments import name_in
from bot.youth.notices import skip_reason as notice_skip_reason
from bot.youth.waiting import ACTIVE
from db.broadcasts import Broadcast, BroadcastRecipient
from db.models import Beneficiary, Conversation, FollowupContact, Message
from db.session import append
from db.youth import Enrolment
from handlers.turn import Reply

LANGUAGES = {"sq": ("sq",), "sr": ("sr-Cyrl", "sr-Latn")}
CHANNELS = ("telegram", "web", "whatsapp", "viber")
FOLLOWUP_STATES = ("due", "overdue", "completed", "none")
WAVES = (1, 2, 3)
MAX_TEXT = 3500  # one message on every channel, whatever the script
SENT = ("sent", "delivered", "read")
CYRILLIC = re.compile("[\u0400-\u04ff]")


@dataclass(frozen=True)
class Segment:
    """Who a broadcast goes to; an empty choice (or None) means anyone."""

    language: str = ""
    municipality: str = ""
    cohort: int | None = None
    wave: int | None = None
    followup: str = ""
    channel: str = ""

    @classmethod
    def parse(cls, form: dict[str, str]) -> Segment:
        """A segment from a form's fields, refused when a value is not one offered."""
        language, channel, followup = form.get("language", ""), form.get("channel", ""), form.get("followup", "")
        for value, offered in ((language, LANGUAGES), (channel, CHANNELS), (followup, FOLLOWUP_STATES)):
            if value and value not in offered:
                raise Refused("segment")
        try:
            cohort = int(form["cohort"]) if form.get("cohort") else None
            wave = int(form["wave"]) if form.get("wave") else None
        except ValueError as exc:
            raise Refused("segment") from exc
        if wave is not None and wave not in WAVES:
            raise Refused("segment")
        return cls(language, form.get("municipality", "")[:32], cohort, wave, followup, channel)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}


@dataclass
class Reach:
    """Who a segment reaches before sending: how many would get the message, and who is skipped, why."""

    people: list[tuple[Beneficiary, Conversation | None, str | None]] = field(default_factory=list)

    @property
    def reached(self) -> int:
        return sum(1 for *_, reason in self.people if reason is None)

    @property
    def by_locale(self) -> Counter[str]:
        return Counter(person.locale or "sq" for person, _, reason in self.people if reason is None)

    @property
    def skipped(self) -> Counter[str]:
        return Counter(reason for *_, reason in self.people if reason is not None)


@dataclass
class Counts:
    """What became of a broadcast so far: queued, sent, failed (with the platform's reasons), skipped (why)."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.queued + self.sent + self.failed + sum(self.skipped.values())


def text_in(locale: str, text_sq: str, text_sr: str) -> str:
    """The broadcast as a reader of `locale` gets it (Serbian Latin transliterated from the Cyrillic)."""
    return name_in(locale, text_sq, text_sr)


def preview(text_sq: str, text_sr: str) -> dict[str, str]:
    """The message in Albanian, Serbian Cyrillic and Serbian Latin, as each reader gets it."""
    text_sq, text_sr = check_texts(text_sq, text_sr)
    return {locale: text_in(locale, text_sq, text_sr) for locale in PREVIEW_LOCALES}


def check_texts(text_sq: str, text_sr: str) -> tuple[str, str]:
    text_sq, text_sr = check_announcement(text_sq, text_sr)
    if len(text_sq) > MAX_TEXT or len(text_sr) > MAX_TEXT:
        raise Refused("text_too_long", limit=MAX_TEXT)
    if not CYRILLIC.search(text_sr):  # else Cyrillic readers would get Latin, and Latin readers the same
        raise Refused("not_cyrillic")
    return text_sq, text_sr


def skip_reason(person: Beneficiary, templates: dict[str, str], now: datetime) -> str | None:
    """Why the broadcast may not go to this person, or None when it may."""
    if person.consent == "erased":
        return "erased"
    reason = notice_skip_reason(person)
    if reason == "blocked" and person.channel == "viber":
        return "unsubscribed"
    if reason is not None:
        return reason
    window = WINDOWS.get(person.channel)
    if window is not None and person.last_contact_at is not None and now >= person.last_contact_at + window:
        # The sender would need the approved template for announcements in the person's language.
        language = person.locale if person.locale in PREVIEW_LOCALES else "sq"
        if f"{PURPOSES[LANE_ANNOUNCEMENT]}:{language}" not in templates:
            return "outside_window"
    return None


def _followup(segment: Segment, now: datetime) -> ColumnElement[bool]:
    wave = FollowupContact.wave == segment.wave if segment.wave is not None else true()
    of_person = and_(FollowupContact.beneficiary_id == Beneficiary.id, wave)
    open_ = FollowupContact.status.in_(("planned", "sent"))
    if segment.followup == "due":
        return exists().where(of_person, open_, FollowupContact.due_at <= now, FollowupContact.expires_at > now)
    if segment.followup == "overdue":
        late = or_(FollowupContact.status == "expired", and_(open_, FollowupContact.expires_at <= now))
        return exists().where(of_person, late)
    if segment.followup == "completed":
        return exists().where(of_person, FollowupContact.status == "answered")
    if segment.followup == "none":
        return ~exists().where(of_person)
    return true()


def _people(segment: Segment, scope: Sequence[str] | None, now: datetime) -> Select[Beneficiary, Conversation]:
    query = select(Beneficiary, Conversation).outerjoin(Conversation, Conversation.beneficiary_id == Beneficiary.id)
    if scope is not None:
        query = query.where(Beneficiary.municipality.in_(scope))
    if segment.language:
        query = query.where(Beneficiary.locale.in_(LANGUAGES[segment.language]))
    if segment.municipality:
        query = query.where(Beneficiary.municipality == segment.municipality)
    if segment.channel:
        query = query.where(Beneficiary.channel == segment.channel)
    if segment.cohort is not None:
        query = query.where(
            exists().where(
                Enrolment.beneficiary_id == Beneficiary.id,
                Enrolment.cohort_id == segment.cohort,
                Enrolment.status.in_(ACTIVE),
            )
        )
    if segment.followup:
        query = query.where(_followup(segment, now))
    return query.order_by(Beneficiary.id)


async def reach(
    session: AsyncSession, segment: Segment, scope: Sequence[str] | None, templates: dict[str, str], now: datetime
) -> Reach:
    """Everyone in the segment within `scope` (None: every municipality), each with their skip reason."""
    found = Reach()
    for person, conversation in await session.execute(_people(segment, scope, now)):
        reason = skip_reason(person, templates, now)
        if reason is None and conversation is None:
            reason = "no_consent"
        found.people.append((person, conversation, reason))
    return found


async def send(
    session: AsyncSession,
    templates: dict[str, str],
    *,
    author: str,
    token: str,
    segment: Segment,
    scope: Sequence[str] | None,
    text_sq: str,
    text_sr: str,
    now: datetime,
) -> tuple[Broadcast, Reach]:
    """Queue the broadcast for everyone the segment reaches and record each recipient, in one transaction."""
    text_sq, text_sr = check_texts(text_sq, text_sr)
    found = await reach(session, segment, scope, templates, now)
    broadcast = Broadcast(
        token=token[:32],
        author=author,
        text_sq=text_sq,
        text_sr=text_sr,
        segment=segment.as_dict(),
        scope=list(scope) if scope is not None else None,
        recipients=len(found.people),
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    for person, conversation, reason in found.people:
        line = None
        if reason is None and conversation is not None:
            locale = person.locale or "sq"
            lines = await queue_reply(
                session,
                person=person,
                conversation=conversation,
                chat_id=person.chat_id or "",
                reply=Reply(text_in(locale, text_sq, text_sr)),
                now=now,
                author=f"broadcast:{author}",
                lane=LANE_ANNOUNCEMENT,
            )
            line = lines[-1]
        await append(
            session,
            BroadcastRecipient,
            {
                "broadcast_id": broadcast.id,
                "beneficiary_id": person.id,
                "message_id": line,
                "channel": person.channel,
                "locale": person.locale,
                "skipped": reason,
            },
        )
    return broadcast, found


async def counts(session: AsyncSession, broadcast_id: int) -> Counts:
    """Each recipient counted once, by their reason for being skipped or their line's delivery status."""
    r = BroadcastRecipient
    rows = await session.execute(
        select(r.skipped, r.channel, r.message_id.is_(None), Beneficiary.consent, Beneficiary.blocked)
        .add_columns(Message.status, Message.error, func.count())
        .outerjoin(Beneficiary, Beneficiary.id == r.beneficiary_id)
        .outerjoin(Message, Message.id == r.message_id)
        .where(r.broadcast_id == broadcast_id)
        .group_by(r.skipped, r.channel, r.message_id.is_(None), Beneficiary.consent, Beneficiary.blocked)
        .group_by(Message.status, Message.error)
    )
    found = Counts()
    for skipped, channel, no_line, consent, blocked, status, error, n in rows:
        if skipped is not None:
            found.skipped[skipped] += n
        elif no_line or consent in (None, "erased"):
            found.skipped["erased"] += n
        elif status == "queued":
            found.queued += n
        elif status in SENT:
            found.sent += n
        elif status == "skipped":
            found.skipped[(error or "other").split(" ")[0]] += n
        elif blocked:  # the platform refused: the person blocked the bot (Viber: unsubscribed) meanwhile
            found.skipped["unsubscribed" if channel == "viber" else "blocked"] += n
        else:
            found.failed += n
            found.failures[(error or "")[:80]] += n
    return found


async def erase(session: AsyncSession, person: Beneficiary) -> None:
    """An erased person's recipient rows keep nothing of them: no link, app or language; they count as erased."""
    await session.execute(
        update(BroadcastRecipient)
        .where(BroadcastRecipient.beneficiary_id == person.id)
        .values(beneficiary_id=None, channel="", locale=None)
    )
