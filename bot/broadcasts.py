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

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, exists, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.events import Reply
from bot.outbox import LANE_ANNOUNCEMENT, PURPOSES, WINDOWS, queue_reply
from bot.youth.coordination import PREVIEW_LOCALES, Refused, check_announcement
from bot.youth.enrolments import name_in
from bot.youth.notices import skip_reason as notice_skip_reason
from bot.youth.waiting import ACTIVE
from db.broadcasts import Broadcast, BroadcastRecipient
from db.models import AuditEntry, Beneficiary, Conversation, FollowupContact, Message
from db.session import Database, append
from db.youth import Enrolment

# A segment's language: Albanian, Serbian in one script (people read it in the script they chose), or both scripts.
LANGUAGES = {"sq": ("sq",), "sr-Cyrl": ("sr-Cyrl",), "sr-Latn": ("sr-Latn",), "sr": ("sr-Cyrl", "sr-Latn")}
CHANNELS = ("telegram", "web", "whatsapp", "viber")
FOLLOWUP_STATES = ("due", "overdue", "completed", "none")
WAVES = (1, 2, 3)
MAX_TEXT = 3500  # one message on every channel, whatever the script
SENT = ("sent", "delivered", "read")
CYRILLIC = re.compile("[\u0400-\u04ff]")
QUEUING, QUEUED, FAILED = "queuing", "queued", "failed"
ATTEMPTS = 3  # a batch that fails this many times in a row stops the broadcast's queuing: it is marked failed
ACTOR = "broadcasts"  # the audit log's actor for what the queue does by itself
BATCH = 500  # people queued per transaction
STALE = timedelta(seconds=30)  # a broadcast no batch was queued for this long is resumed (`Queue.watch`)
LOOK_EVERY = timedelta(seconds=10)  # how often each process looks for broadcasts whose queuing stopped
SLACK = 0.5  # seconds after a broadcast turns stale that the look for it comes (it is stale only once past `STALE`)
log = logging.getLogger(__name__)


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
    """What became of a broadcast's lines so far: queued (prepared, not sent yet), sent, failed (with the
    platform's reasons), skipped (why)."""

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


def locales_of(language: str) -> tuple[str, ...]:
    """The languages and scripts a segment's readers have: those of its language, or all when it has none."""
    return LANGUAGES.get(language, PREVIEW_LOCALES) if language else PREVIEW_LOCALES


def preview(text_sq: str, text_sr: str, language: str = "") -> dict[str, str]:
    """The message as each reader of the segment's language gets it: in Albanian, Serbian Cyrillic and Serbian
    Latin when the segment takes any language."""
    text_sq, text_sr = check_texts(text_sq, text_sr)
    return {locale: text_in(locale, text_sq, text_sr) for locale in locales_of(language)}


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
    return _with_reasons(await session.execute(_people(segment, scope, now)), templates, now)


def _with_reasons(rows: Any, templates: dict[str, str], now: datetime) -> Reach:
    """Each (person, conversation) of a segment with their reason for being skipped (None: they get it)."""
    found = Reach()
    for person, conversation in rows:
        reason = skip_reason(person, templates, now)
        if reason is None and conversation is None:
            reason = "no_consent"
        found.people.append((person, conversation, reason))
    return found


async def start(
    session: AsyncSession,
    *,
    author: str,
    token: str,
    segment: Segment,
    scope: Sequence[str] | None,
    text_sq: str,
    text_sr: str,
    now: datetime,
) -> Broadcast:
    """Record a broadcast to be queued (`queue_batch`): everyone in the segment now, up to the newest person."""
    text_sq, text_sr = check_texts(text_sq, text_sr)
    upto = (await session.execute(select(func.max(Beneficiary.id)))).scalar_one() or 0
    people = _people(segment, scope, now).where(Beneficiary.id <= upto).order_by(None)
    count = (await session.execute(people.with_only_columns(func.count(), maintain_column_froms=True))).scalar_one()
    broadcast = Broadcast(
        token=token[:32],
        author=author,
        text_sq=text_sq,
        text_sr=text_sr,
        segment=segment.as_dict(),
        scope=list(scope) if scope is not None else None,
        recipients=count,
        created_at=now,
        state=QUEUING,
        through=0,
        upto=upto,
        progress_at=now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def _position(session: AsyncSession, broadcast_id: int) -> Row[int, int, str] | None:
    """Where the queuing of a broadcast stands: the last person handled, the last to handle, its state."""
    return (
        await session.execute(
            select(Broadcast.through, Broadcast.upto, Broadcast.state).where(Broadcast.id == broadcast_id)
        )
    ).one_or_none()


async def queue_batch(
    session: AsyncSession, broadcast_id: int, templates: dict[str, str], now: datetime, *, size: int = BATCH
) -> Reach | None:
    """Queue the broadcast for the next `size` people of its segment, after the last one handled; None when
    there is nothing left to do (finished, or another process handled this batch meanwhile).

    The first statement claims the batch: it updates the broadcast's row only while `through` is still what
    was read, so on PostgreSQL a second process doing the same waits for the row's lock and then finds it
    changed; SQLite has one writer at a time. The lines, the recipient rows and the new `through` commit
    together, so a crash loses the whole batch or none of it: nobody is sent it twice, nobody is missed.
    """
    found = await _position(session, broadcast_id)
    if found is None or found.state != QUEUING:
        return None
    through, upto = found.through, found.upto
    claimed = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.state == QUEUING, Broadcast.through == through)
        .values(progress_at=now)
        .returning(Broadcast.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.scalar() is None:
        return None
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    assert broadcast is not None
    segment = Segment(**broadcast.segment)
    # The segment as it was when the broadcast was sent, however late a batch is queued (after an outage, say):
    # "due" and "overdue" follow-ups are read at that time. Whether someone may get it is read now.
    query = _people(segment, broadcast.scope, broadcast.created_at).where(
        Beneficiary.id > through, Beneficiary.id <= upto
    )
    # On PostgreSQL each person's row is locked until the batch commits: an erasure under way is waited for
    # (and the person then found erased), and one that starts meanwhile waits for the batch, then removes
    # what it wrote for them. SQLite has one writer at a time.
    batch = _with_reasons(await session.execute(query.limit(size).with_for_update(of=Beneficiary)), templates, now)
    for person, talk, reason in batch.people:
        line = None
        if reason is None and talk is not None:
            locale = person.locale or "sq"
            lines = await queue_reply(
                session,
                person=person,
                conversation=talk,
                chat_id=person.chat_id or "",
                reply=Reply(text_in(locale, broadcast.text_sq, broadcast.text_sr)),
                now=now,
                author=f"broadcast:{broadcast.author}",
                lane=LANE_ANNOUNCEMENT,
            )
            line = lines[-1]
        erased = reason == "erased"  # kept as `erase` leaves an erased person's rows: nothing of them
        await append(
            session,
            BroadcastRecipient,
            {
                "broadcast_id": broadcast.id,
                "beneficiary_id": None if erased else person.id,
                "message_id": line,
                "channel": "" if erased else person.channel,
                "locale": None if erased else person.locale,
                "skipped": reason,
            },
        )
    last = batch.people[-1][0].id if batch.people else upto
    done = len(batch.people) < size or last >= upto
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id)
        .values(through=upto if done else last, state=QUEUED if done else QUEUING, progress_at=now)
        .execution_options(synchronize_session=False)
    )
    if done:
        await _audit_queued(session, broadcast_id, now)
    return batch


async def _audit_queued(session: AsyncSession, broadcast_id: int, now: datetime) -> None:
    """The audit log's entry once everyone is handled: how many get the message, how many were skipped, why."""
    rows = await session.execute(
        select(BroadcastRecipient.skipped, func.count())
        .where(BroadcastRecipient.broadcast_id == broadcast_id)
        .group_by(BroadcastRecipient.skipped)
    )
    reached, skipped = 0, {}
    for reason, n in rows:
        if reason is None:
            reached = n
        else:
            skipped[reason] = n
    session.add(
        AuditEntry(
            at=now,
            actor=ACTOR,
            action="broadcast.queued",
            target=f"broadcast:{broadcast_id}",
            detail={"reached": reached, "skipped": dict(sorted(skipped.items()))},
        )
    )


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
    """Queue the broadcast for everyone the segment reaches in one transaction (a small one, or a test's);
    the console starts it and leaves the batches to a `Queue`."""
    broadcast = await start(
        session, author=author, token=token, segment=segment, scope=scope, text_sq=text_sq, text_sr=text_sr, now=now
    )
    found = Reach()
    while (batch := await queue_batch(session, broadcast.id, templates, now)) is not None:
        found.people += batch.people
    await session.refresh(broadcast)
    return broadcast, found


@dataclass
class Progress:
    """How far the queuing of a broadcast has come: people handled out of those in the segment."""

    state: str
    handled: int
    recipients: int


@dataclass(frozen=True)
class Tally:
    """Everyone in a broadcast's segment, each counted once: sent, not delivered, skipped, still to send (prepared
    and waiting, or not looked at yet while the messages are prepared), and, when preparing stopped for good,
    not prepared. The parts add up to `size`."""

    size: int
    sent: int
    failed: int
    skipped: int
    left: int
    unprepared: int = 0


def tally(progress: Progress, found: Counts) -> Tally:
    skipped = sum(found.skipped.values())
    if progress.state == FAILED:  # those not prepared are never sent: not "still to send"
        size = max(progress.recipients, progress.handled)
        return Tally(size, found.sent, found.failed, skipped, found.queued, size - progress.handled)
    # Once everyone is handled, the segment is the people handled (someone may have left it meanwhile).
    size = progress.handled if progress.state == QUEUED else progress.recipients
    done = found.sent + found.failed + skipped
    return Tally(max(size, done + found.queued), found.sent, found.failed, skipped, max(size - done, found.queued))


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    handled = (
        await session.execute(
            select(func.count()).select_from(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast.id)
        )
    ).scalar_one()
    return Progress(broadcast.state, handled, max(broadcast.recipients, handled))


class Queue:
    """Queues broadcasts in the background, one batch per transaction, each batch handed to delivery at once.

    The console starts one when a broadcast is sent; every process resumes any broadcast whose queuing stopped
    (its process ended) more than `STALE` ago (`watch`). A resumed broadcast and one still queued elsewhere are
    never queued twice: each batch is claimed first (`queue_batch`).
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        templates: dict[str, str],
        *,
        on_queued: Callable[[], None] = lambda: None,
        batch: int = BATCH,
    ) -> None:
        self.db, self.clock, self.templates = db, clock, templates
        self.on_queued = on_queued
        self.batch = batch
        self._running: dict[int, asyncio.Task[None]] = {}
        self._failures: Counter[int] = Counter()  # batches of each broadcast failed in a row, in this process
        self._retry_at: dict[int, datetime] = {}  # a broadcast whose batch failed here is tried again from then

    def queue(self, broadcast_id: int) -> asyncio.Task[None]:
        """Queue a broadcast in the background, unless this process does already."""
        task = self._running.get(broadcast_id)
        if task is None or task.done():
            task = asyncio.create_task(self.run(broadcast_id), name=f"broadcast-{broadcast_id}")
            self._running[broadcast_id] = task
            task.add_done_callback(lambda _: self._running.pop(broadcast_id, None))
        return task

    async def run(self, broadcast_id: int) -> None:
        """Batches until the broadcast is queued for everyone (or another process carries on with it).

        A batch that fails is tried again when the scheduler resumes the broadcast; after `ATTEMPTS` failures
        in a row the broadcast is marked failed (its page says so) and audited, instead of being retried
        for ever. The lines already queued are still delivered.
        """
        try:
            while True:
                async with self.db.transaction() as session:
                    batch = await queue_batch(session, broadcast_id, self.templates, self.clock.now(), size=self.batch)
                self._failures.pop(broadcast_id, None)
                if batch is None:
                    return
                self.on_queued()
                await asyncio.sleep(0)  # let replies and pages in between batches
        except Exception as exc:
            self._failures[broadcast_id] += 1
            attempts = self._failures[broadcast_id]
            if attempts < ATTEMPTS:
                self._retry_at[broadcast_id] = self.clock.now() + STALE  # not at once: the error may pass
                log.exception(
                    "queuing broadcast %s stopped (%d of %d attempts); the scheduler resumes it",
                    broadcast_id,
                    attempts,
                    ATTEMPTS,
                )
                return
            log.exception("queuing broadcast %s failed %d times in a row; it is marked failed", broadcast_id, attempts)
            try:
                await self._give_up(broadcast_id, attempts, exc)
            except Exception:
                log.exception("broadcast %s could not be marked failed; the scheduler resumes it", broadcast_id)

    async def _give_up(self, broadcast_id: int, attempts: int, exc: Exception) -> None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            stopped = await session.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.state == QUEUING)
                .values(state=FAILED, progress_at=now)
                .returning(Broadcast.id)
                .execution_options(synchronize_session=False)
            )
            if stopped.scalar() is None:  # another process finished it meanwhile
                return
            session.add(
                AuditEntry(
                    at=now,
                    actor=ACTOR,
                    action="broadcast.failed",
                    target=f"broadcast:{broadcast_id}",
                    detail={"attempts": attempts, "error": type(exc).__name__},
                )
            )
        self._failures.pop(broadcast_id, None)

    async def resume(self, stale: timedelta = STALE) -> list[int]:
        """Start queuing every broadcast left unfinished for longer than `stale`; their ids."""
        now = self.clock.now()
        since = now - stale
        async with self.db.sessions() as session:
            left = list(
                (
                    await session.execute(
                        select(Broadcast.id).where(
                            Broadcast.state == QUEUING,
                            or_(Broadcast.progress_at.is_(None), Broadcast.progress_at < since),
                        )
                    )
                ).scalars()
            )
        left = [b for b in left if self._retry_at.get(b, now) <= now]  # a batch that failed here waits a little
        self._retry_at = {b: at for b, at in self._retry_at.items() if at > now}
        for broadcast_id in left:
            self.queue(broadcast_id)
        return left

    async def next_stale(self, stale: timedelta = STALE) -> datetime | None:
        """When the next broadcast being queued now turns stale if no batch of it is queued meanwhile."""
        since = self.clock.now() - stale
        async with self.db.sessions() as session:
            last = (
                await session.execute(
                    select(func.min(Broadcast.progress_at)).where(
                        Broadcast.state == QUEUING, Broadcast.progress_at >= since
                    )
                )
            ).scalar()
        due = [last + stale] if last is not None else []
        due += [at for b, at in self._retry_at.items() if b not in self._running]  # all later than now
        return min(due, default=None)

    async def watch(
        self,
        stop: asyncio.Event,
        *,
        every: timedelta = LOOK_EVERY,
        stale: timedelta = STALE,
        pause: Callable[[float], Awaitable[bool]] | None = None,
    ) -> None:
        """Resume broadcasts whose queuing stopped, each as soon as it turns stale, until `stop` is set.

        Each look resumes what is stale and notes when the next broadcast being queued would turn stale; the next
        look comes then (a moment after), or after `every` when that is sooner. A broadcast whose process ended
        thus continues `stale` after its last batch; one that process began after this process last looked, within
        `stale` and `every`. `pause(seconds)` waits and says whether to stop (by default: `stop` is set meanwhile).
        """

        async def until_stopped(seconds: float) -> bool:
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
            except TimeoutError:
                return False
            return True

        wait = pause or until_stopped
        while not stop.is_set():
            due = None
            try:
                await self.resume(stale)
                due = await self.next_stale(stale)
            except Exception:
                log.exception("resuming broadcasts failed; trying again shortly")
            seconds = every.total_seconds()
            if due is not None:
                seconds = min(seconds, max((due - self.clock.now()).total_seconds(), 0.0) + SLACK)
            if await wait(seconds):
                return

    async def wait_idle(self) -> None:
        """Until this process queues no broadcast."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)


def seal(key: bytes, token: str, author: str, text_sq: str, text_sr: str, segment: Segment) -> str:
    """What ties a preview's confirmation to what was previewed: the one-time token, who previewed, both texts
    exactly and the segment. Sending checks it again, so another text or segment cannot go out under it."""
    shown = json.dumps([token, author, text_sq, text_sr, segment.as_dict()], ensure_ascii=False, sort_keys=True)
    return hmac.new(key, b"broadcast-preview\0" + shown.encode(), hashlib.sha256).hexdigest()


def sealed(key: bytes, given: str, token: str, author: str, text_sq: str, text_sr: str, segment: Segment) -> bool:
    return hmac.compare_digest(seal(key, token, author, text_sq, text_sr, segment).encode(), given.encode())


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
        elif status in ("queued", "sending"):
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
