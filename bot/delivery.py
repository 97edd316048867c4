"""The delivery worker: reads the outbox and sends, in order per chat, paced to the channel's limits.

Every send's result is recorded on the outbox row and on the transcript line: the channel's
message id and `sent`, or the reason it failed. A 429 pauses all sending for its `retry_after`;
server errors and timeouts are retried with exponential back-off; a 400 is a permanent failure;
a 403 marks the person as having blocked the bot. Sending is at-least-once: only a message in
flight at the moment of a crash can go out twice.

Claims are leases: a worker renews the claims it holds every quarter of the lease, and any claim
left unrenewed for a whole lease (its worker died) goes back to the queue, for whichever worker
looks first. A worker restarted under the same id returns its own claims at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import (
    CursorResult,
    Select,
    Table,
    and_,
    bindparam,
    case,
    exists,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.orm import aliased

from bot.channels import Blocked, PartedSender, Parts, RetryLater, SendError, Sent, Skipped, Transient
from bot.clock import Clock
from bot.outbox import LANE_CASEWORKER, LANE_REPLY
from bot.ratelimit import Limiter
from db.models import Beneficiary, Message, OutboxItem
from db.session import Database

log = logging.getLogger(__name__)

MAX_TRANSIENT_ATTEMPTS = 12  # about two hours of back-off before a message is given up
LEASE = timedelta(minutes=2)  # a claim not renewed for this long belongs to a worker that died
SENT_BATCH_SECONDS = 0.02  # successful sends are recorded together, this often
PACED_METHODS = frozenset({"sendMessage", "sendDocument"})  # answering a button press is not a message


_OUTBOX, _MESSAGES = cast(Table, OutboxItem.__table__), cast(Table, Message.__table__)
_LINELESS = _OUTBOX.c.message_id.is_(None)
# A sent row's record, its detail gone when it has no transcript line.
_RECORD_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(
        chat_id=case((_LINELESS, ""), else_=_OUTBOX.c.chat_id),
        payload=case((_LINELESS, type_coerce({}, _OUTBOX.c.payload.type)), else_=_OUTBOX.c.payload),
    )
)
# A sent line's record. A receipt that arrived before it (delivered, read, or failed with its reason:
# Viber and Meta can report before the send's own answer is recorded) is not taken back to `sent`.
_LATER = or_(*(_MESSAGES.c.status == status for status in ("delivered", "read", "failed")))
_RECORD_LINE = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("line_id"))
    .values(status=case((_LATER, _MESSAGES.c.status), else_="sent"))
)
# A claim marks its rows, their ids bound at execution (built per claim, each id was a parameter of its own).
_MARK_CLAIMED = update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))


class Sender(Protocol):
    async def send(self, method: str, chat_id: str, payload: dict[str, Any]) -> Sent: ...


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    chat_id: str
    method: str
    payload: dict[str, Any]
    attempts: int
    message_id: int | None
    beneficiary_id: int | None
    lane: int = 0
    parts_sent: int = 0  # messages of this row the platform already confirmed


class Delivery:
    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        clock: Clock,
        limiter: Limiter,
        worker_id: str,
        concurrency: int = 64,
        backoff_first: float = 2.0,
        bulk_held: int = 50,
        lease: timedelta = LEASE,
        on_event: Callable[[str, Claimed], Awaitable[None] | None] | None = None,
        limiters: dict[str, Limiter] | None = None,
    ) -> None:
        self.db = db
        self.senders = senders
        self.clock = clock
        self.limiter = limiter
        # Each channel paces on its own limits (and a 429 of one pauses only that one); `limiter` is
        # the default for channels without their own.
        self.limiters = limiters or {}
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.backoff_first = backoff_first
        self.on_event = on_event
        self._wake = asyncio.Event()
        # Whether a claim may find something: set by wake(), by a finished send of that lane (the chat's
        # next message becomes its head) and by the idle timer; a claim that finds less than it asked for
        # clears it, so a wave's steady state does not run a claim query per message.
        self._live_due = True
        self._bulk_due = True
        self._inflight: set[asyncio.Task[None]] = set()
        self._ready: list[tuple[int, int, Claimed]] = []  # claimed, waiting for the limits: (lane, id, item)
        self._ready_changed = asyncio.Event()
        self._busy: set[tuple[str, str]] = set()  # chats with a send on its way: their next row waits
        self._withdrawn = 0  # counts the times rows were taken back out of the ready queue
        self._claiming = asyncio.Lock()  # a claim and its enqueueing, or a failed send's record
        self._slots = asyncio.Semaphore(concurrency)
        # Bulk lanes (follow-ups, announcements) are claimed only a little ahead of what the rate allows.
        self.bulk_held = bulk_held
        self.lease = lease
        self._held: set[int] = set()  # claimed by this worker and not yet recorded or released
        self._live_claimed = False  # the live lanes have been looked at since this worker started
        self._live_sending: set[asyncio.Task[None]] = set()  # live-lane sends started and not yet recorded
        self._sent_batch: list[tuple[Claimed, Sent, datetime, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._sending = 0  # sends started whose answer has not come back yet
        self._batch_grew = asyncio.Event()  # set as each of them comes back
        self._claim_queries: dict[tuple[Any, ...], Select[Any]] = {}  # a few dozen shapes at most
        self.sent = 0
        self.failed = 0
        self.throttled = 0

    def wake(self) -> None:
        """Something was queued: look at every lane again."""
        self._live_due = self._bulk_due = True
        self._wake.set()

    async def release_stale_claims(self) -> int:
        """Rows claimed by this worker before a restart, or by a worker that died, go back to the queue.

        On SQLite only one process writes, so every claim found at start-up is a dead process's.
        """
        cutoff = self.clock.now() - self.lease
        stale = (OutboxItem.claimed_by == self.worker_id) | (OutboxItem.claimed_at < cutoff)
        async with self.db.transaction() as session:
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.status == "sending", true() if self.db.is_sqlite else stale)
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
            released = result.rowcount or 0  # type: ignore[attr-defined]
        log.info("delivery started", extra={"worker": self.worker_id, "claims_returned": released})
        return released

    async def keep_claims(self) -> int:
        """Renew this worker's claims, and return to the queue claims nobody renewed for a whole lease."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            held = sorted(self._held)
            for start in range(0, len(held), 1000):
                await session.execute(
                    update(OutboxItem)
                    .where(
                        OutboxItem.id.in_(held[start : start + 1000]),
                        OutboxItem.status == "sending",
                        OutboxItem.claimed_by == self.worker_id,
                    )
                    .values(claimed_at=now)
                )
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.status == "sending", OutboxItem.claimed_at < now - self.lease)
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
            released = result.rowcount or 0  # type: ignore[attr-defined]
        if released:
            log.warning(
                "claims of a worker that stopped renewing them returned to the queue",
                extra={"count": released},
            )
        return released

    async def _release_orphans(self) -> None:
        """After a failed claim: rows it may have claimed anyway (the commit went through, its answer was
        lost) are not in this worker's hands; they go back to the queue now rather than after the lease."""
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(OutboxItem)
                    .where(
                        OutboxItem.status == "sending",
                        OutboxItem.claimed_by == self.worker_id,
                        OutboxItem.id.not_in(sorted(self._held)),
                    )
                    .values(status="pending", claimed_by=None, claimed_at=None)
                )
        except Exception:
            log.exception("returning unclaimed rows failed; they come back after the lease")

    def _claim_query(self, limit: int, lanes: tuple[int, int]) -> Select[Any]:
        """What a claim reads: each chat's head (or the rows behind what this worker holds), due now, in lane
        order; built once per shape, `now` and the worker bound per call."""
        key = (limit, lanes, tuple(self.senders))
        if key not in self._claim_queries:
            self._claim_queries[key] = self._build_claim_query(limit, lanes)
        return self._claim_queries[key]

    def _build_claim_query(self, limit: int, lanes: tuple[int, int]) -> Select[Any]:
        earlier = aliased(OutboxItem)
        # A chat's first unsent row, or one behind rows only this worker holds: those it sends first, in
        # order (`_dispatch`), so a person's next reply is claimed while the one before it is on its way.
        head = ~exists().where(
            and_(
                earlier.channel == OutboxItem.channel,
                earlier.chat_id == OutboxItem.chat_id,
                or_(
                    earlier.status == "pending",
                    and_(
                        earlier.status == "sending",
                        or_(earlier.claimed_by.is_(None), earlier.claimed_by != bindparam("worker")),
                    ),
                ),
                earlier.id < OutboxItem.id,
            )
        )
        outbox = cast(Table, OutboxItem.__table__)
        query = (
            select(
                outbox.c.id,
                outbox.c.channel,
                outbox.c.chat_id,
                outbox.c.method,
                outbox.c.payload,
                outbox.c.attempts,
                outbox.c.message_id,
                outbox.c.beneficiary_id,
                outbox.c.lane,
                outbox.c.parts_sent,
            )
            .where(
                OutboxItem.status == "pending",
                OutboxItem.next_attempt_at <= bindparam("now", type_=OutboxItem.next_attempt_at.type),
                head,
                OutboxItem.lane.between(*lanes),
                OutboxItem.channel.in_(tuple(self.senders)),
            )
            .order_by(OutboxItem.lane, OutboxItem.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=outbox)
        return query

    async def _claim(self, limit: int, lanes: tuple[int, int]) -> list[Claimed]:
        now = self.clock.now()
        query = self._claim_query(limit, lanes)
        async with self.db.transaction() as session:
            found = await session.execute(query, {"now": now, "worker": self.worker_id})
            claimed = [Claimed(*row) for row in found.all()]
            if claimed:
                await session.execute(
                    _MARK_CLAIMED,
                    {
                        "ids": [item.id for item in claimed],
                        "status": "sending",
                        "claimed_by": self.worker_id,
                        "claimed_at": now,
                    },
                )
        self._held.update(item.id for item in claimed)  # only once the claim is committed
        return claimed

    async def run_once(self) -> int:
        """Claim what is due into the ready queue: live lanes always, bulk lanes only as far as they can go soon."""
        live: list[Claimed] = []
        if self._live_due:
            self._live_due = False
            async with self._claiming:
                live = await self._claim(self.concurrency, (LANE_REPLY, LANE_CASEWORKER))
                self._enqueue(live)  # at once: if the next claim fails, these are still sent
            self._live_claimed = True
            # A full batch: more may be waiting; a wake during the claim is kept, not overwritten.
            self._live_due = self._live_due or len(live) == self.concurrency
        bulk: list[Claimed] = []
        bulk_room = self.bulk_held - sum(1 for _, _, item in self._ready if item.lane > LANE_CASEWORKER)
        if self._bulk_due and bulk_room >= max(1, self.bulk_held // 2):  # top up in batches, not one by one
            self._bulk_due = False
            async with self._claiming:
                bulk = await self._claim(bulk_room, (LANE_CASEWORKER + 1, 99))
                self._enqueue(bulk)
            self._bulk_due = self._bulk_due or len(bulk) == bulk_room
        return len(live) + len(bulk)

    def _enqueue(self, items: list[Claimed]) -> None:
        for item in items:
            heapq.heappush(self._ready, (item.lane, item.id, item))
        if items:
            self._ready_changed.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._live_sending.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def run(self, stop: asyncio.Event) -> None:
        await self.release_stale_claims()
        dispatcher = asyncio.create_task(self._dispatch(stop), name="dispatch")
        loop = asyncio.get_running_loop()
        renew_every = self.lease.total_seconds() / 4
        next_renewal = loop.time() + renew_every
        while not stop.is_set():
            if loop.time() >= next_renewal:
                try:
                    await self.keep_claims()
                except Exception:
                    log.exception("renewing claims failed; retrying")
                next_renewal = loop.time() + renew_every
            self._wake.clear()  # before claiming: a wake-up during the claim must not be lost
            try:
                started = await self.run_once()
            except Exception:
                log.exception("claiming from the outbox failed; retrying")
                started = 0
                await asyncio.sleep(1.0)
                await self._release_orphans()
                self._live_due = self._bulk_due = True
            if started == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                except TimeoutError:  # retries fall due with time, not with a wake-up
                    self._live_due = self._bulk_due = True
        self._ready_changed.set()
        await dispatcher
        await self.drain()

    async def caught_up(self, seconds: float) -> bool:
        """Whether, within `seconds`, every reply and caseworker message due is sent and recorded.

        At start-up: the live lanes have been claimed from, nothing more is due there, and nothing
        claimed from them is waiting or in flight. Bulk lanes (follow-ups, announcements) are paced
        and are not waited for.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not (
            self._live_claimed
            and not self._live_due
            and not self._live_sending
            and not any(item.lane <= LANE_CASEWORKER for _, _, item in self._ready)
        ):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def drain(self) -> None:
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    async def _dispatch(self, stop: asyncio.Event) -> None:
        """Start sends in priority order (replies first), each when the limits let it go."""
        loop = asyncio.get_running_loop()
        chat_not_before: dict[str, float] = {}
        while not (stop.is_set() and not self._ready):
            if stop.is_set():  # shutting down: unsent claims go back to the queue for the next start
                await self._release([item for _, _, item in self._ready])
                self._ready.clear()
                return
            if not self._ready:
                self._ready_changed.clear()
                await self._ready_changed.wait()
                continue
            await self._slots.acquire()
            slot = True  # one slot in hand; each start uses it and takes the next, while any is free
            now = loop.time()
            shortest = 0.05
            started: set[int] = set()
            withdrawn = self._withdrawn
            waiting = sorted(self._ready)
            first: dict[tuple[str, str], int] = {}  # each chat's earliest claimed row: the only one that may go
            for _, row_id, item in waiting:
                chat = (item.channel, item.chat_id)
                first[chat] = min(first.get(chat, row_id), row_id)
            for entry in waiting:
                if not slot:
                    if self._slots.locked():
                        break
                    await self._slots.acquire()  # free: taken at once
                    slot = True
                item = entry[2]
                chat = (item.channel, item.chat_id)
                if chat in self._busy or first[chat] != item.id:
                    continue
                if item.method not in PACED_METHODS:
                    wait, scope = 0.0, ""
                elif chat_not_before.get(f"{item.channel}:{item.chat_id}", 0.0) > now:
                    continue
                else:
                    wait, scope = await self._limiter(item.channel).acquire(item.chat_id)
                    if withdrawn != self._withdrawn:  # rows went back to the queue meanwhile: look again
                        break
                if wait <= 0:
                    started.add(item.id)
                    self._busy.add(chat)
                    task = asyncio.create_task(self._deliver(item))
                    self._inflight.add(task)
                    if item.lane <= LANE_CASEWORKER:
                        self._live_sending.add(task)
                    task.add_done_callback(self._done_slot)
                    slot = False
                    continue
                if scope == "chat":
                    chat_not_before[f"{item.channel}:{item.chat_id}"] = now + wait
                    shortest = min(shortest, wait)
                    continue
                shortest = min(shortest, wait)
                if self.limiters:
                    continue  # one channel's global limit or pause does not hold the others
                break  # a global limit or a pause holds every chat
            if started:
                self._ready = [entry for entry in self._ready if entry[1] not in started]
                heapq.heapify(self._ready)
            if slot:
                self._slots.release()
            if not started and withdrawn == self._withdrawn:
                self._ready_changed.clear()
                try:
                    await asyncio.wait_for(self._ready_changed.wait(), timeout=max(shortest, 0.001))
                except TimeoutError:
                    pass
            if len(chat_not_before) > 10_000:
                chat_not_before = {k: v for k, v in chat_not_before.items() if v > now}

    def _done_slot(self, task: asyncio.Task[None]) -> None:
        self._slots.release()
        self._done(task)

    async def _release(self, items: list[Claimed]) -> None:
        if not items:
            return
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_([i.id for i in items]))
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
        self._held.difference_update(i.id for i in items)

    async def _deliver(self, item: Claimed) -> None:
        outcome: Sent | SendError
        sender = self.senders[item.channel]
        self._sending += 1
        try:
            if getattr(sender, "parted", False):  # one row, maybe several messages: resumed where it stopped
                parts = Parts(item.parts_sent, functools.partial(self._parts_confirmed, item))
                outcome = await cast(PartedSender, sender).send(item.method, item.chat_id, item.payload, parts)
            else:
                outcome = await sender.send(item.method, item.chat_id, item.payload)
        except SendError as exc:
            outcome = exc
        except Exception as exc:  # an unexpected client error is treated as transient, never lost
            log.exception("unexpected send error")
            outcome = Transient(f"{type(exc).__name__}: {exc}")
        finally:
            self._sending -= 1
            self._batch_grew.set()
        chat = (item.channel, item.chat_id)
        if isinstance(outcome, Sent):  # the chat's next row may go now; this one is recorded meanwhile
            self._busy.discard(chat)
            self._ready_changed.set()
            await self._record(item, outcome)
            return
        answered = self.clock.now()  # a platform's "try again in N seconds" counts from its answer, not the pause's end
        if isinstance(outcome, RetryLater):
            self.throttled += 1
            await self._limiter(item.channel).pause(outcome.seconds + random.uniform(0.05, 0.5))
        followers: list[Claimed] = []
        try:
            # No claim is under way meanwhile, so every row claimed behind this one is in the ready queue;
            # they must not overtake it and go back to the queue with its result, behind it again.
            async with self._claiming:
                followers = [entry[2] for entry in self._ready if (entry[2].channel, entry[2].chat_id) == chat]
                if followers:
                    self._ready = [entry for entry in self._ready if (entry[2].channel, entry[2].chat_id) != chat]
                    heapq.heapify(self._ready)
                    self._withdrawn += 1
                await self._record(item, outcome, followers, answered)
        finally:
            self._held.difference_update(f.id for f in followers)
            self._busy.discard(chat)
            self._ready_changed.set()

    async def _parts_confirmed(self, item: Claimed, count: int) -> None:
        """The first `count` messages of a row went out: recorded before the next is sent, so a retry
        skips them. Should this fail, the send fails too (transient): a retry resends from the last record."""
        async with self.db.transaction() as session:
            done = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id, OutboxItem.claimed_by == self.worker_id)
                .values(parts_sent=count)
            )
        if cast(CursorResult[Any], done).rowcount == 0:  # the claim was lost (its lease ran out): stop here
            raise Transient("the claim on this message was lost before its next part")

    def _limiter(self, channel: str) -> Limiter:
        return self.limiters.get(channel, self.limiter)

    async def _record(
        self,
        item: Claimed,
        outcome: Sent | SendError,
        followers: list[Claimed] | None = None,
        now: datetime | None = None,
    ) -> None:
        now = now or self.clock.now()
        if isinstance(outcome, Sent):
            await self._record_sent(item, outcome, now)
        else:
            await self._retrying(lambda session: self._apply(session, item, outcome, now, followers or []))
        if item.lane <= LANE_CASEWORKER:
            self._live_due = True
        else:
            self._bulk_due = True
        # Recorded, or given up after about 15 s: either way the claim is no longer renewed, so a row
        # that could not be recorded goes back to the queue after the lease (sent twice, never lost).
        self._held.discard(item.id)
        if self.on_event is not None:
            result = self.on_event("sent" if isinstance(outcome, Sent) else type(outcome).__name__, item)
            if result is not None:
                await result

    async def _retrying(self, work: Callable[[Any], Awaitable[None]]) -> None:
        for attempt in range(6):
            try:
                async with self.db.transaction() as session:
                    await work(session)
                return
            except Exception:  # the database may be briefly away; the send itself already happened
                log.exception("recording a send result failed", extra={"attempt": attempt})
                if attempt < 5:
                    await asyncio.sleep(0.5 * 2**attempt)

    async def _record_sent(self, item: Claimed, outcome: Sent, now: datetime) -> None:
        """Successful sends are recorded together, a few milliseconds' worth per transaction: at a wave's
        pace one transaction per message would cost more than the sending itself."""
        done = asyncio.get_running_loop().create_future()
        self._sent_batch.append((item, outcome, now, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_sent())
        await done  # not shielded: cancelled, the send is recorded all the same (the flusher holds it)

    async def _flush_sent(self) -> None:
        # Until every send now in flight has come back, or SENT_BATCH_SECONDS at most: a chat's next
        # message waits for this record, so waiting out the whole interval when nothing else can join
        # would only add to each person's wait.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SENT_BATCH_SECONDS
        while self._sending and (left := deadline - loop.time()) > 0:
            self._batch_grew.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._batch_grew.wait(), timeout=left)
        while self._sent_batch:
            batch, self._sent_batch = self._sent_batch, []
            await self._retrying(functools.partial(self._apply_sent, batch=batch))
            for *_, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _apply_sent(
        self, session: Any, batch: list[tuple[Claimed, Sent, datetime, asyncio.Future[None]]]
    ) -> None:
        # Rows in ascending id order, as the receipts' updates lock them, so the two wait on each other less.
        batch = sorted(batch, key=lambda entry: entry[0].id)
        # Transcript lines first, then outbox rows: the order in which an erasure locks them (deleting a
        # line sets its outbox row's message_id to NULL), so the two never wait on each other in a circle.
        lines = [
            {
                "line_id": item.message_id,
                "sent_at": now,
                "channel_message_id": outcome.channel_message_id,
            }
            for item, outcome, now, _ in batch
            if item.message_id is not None
        ]
        if lines:
            await session.execute(_RECORD_LINE, lines)
        # Nothing beyond the transcript keeps what was sent, nor to whom once ordering is done: a row
        # without a transcript line (a button answer, or a line erased with its person while in flight)
        # loses its detail, in the same statement, and a sent document its content (the transcript keeps
        # the caption).
        await session.execute(
            _RECORD_SENT,
            [
                {
                    "row_id": item.id,
                    "status": "sent",
                    "sent_at": now,
                    "attempts": item.attempts + 1,
                    "claimed_by": None,
                    "claimed_at": None,
                }
                for item, _, now, _ in batch
            ],
        )
        documents = [item.id for item, *_ in batch if item.method == "sendDocument"]
        if documents:
            await session.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(documents)).values(payload={}))
        self.sent += len(batch)

    async def _apply(
        self, session: Any, item: Claimed, outcome: SendError, now: datetime, followers: list[Claimed]
    ) -> None:
        """A send that did not go through: retry later, or fail with the reason (and a block stops the chat).

        `followers`, the chat's rows claimed behind it, go back to the queue first: behind this row again,
        or failed with the chat's other queued rows when the person blocked the bot."""
        if followers:
            await session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id.in_([f.id for f in followers]),
                    OutboxItem.status == "sending",
                    OutboxItem.claimed_by == self.worker_id,
                )
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
        row = await session.get(OutboxItem, item.id)
        if row is None:
            return
        message = await session.get(Message, item.message_id) if item.message_id else None
        row.claimed_by = None
        row.claimed_at = None
        reason = str(outcome)[:2000]
        row.last_error = reason
        log.warning(
            "send not delivered",
            extra={"outbox_id": item.id, "outcome": type(outcome).__name__, "attempts": row.attempts + 1},
        )
        if isinstance(outcome, RetryLater):
            row.status, row.next_attempt_at = "pending", now + timedelta(seconds=outcome.seconds)
            return
        if isinstance(outcome, Transient) and row.attempts + 1 < MAX_TRANSIENT_ATTEMPTS:
            row.attempts += 1
            backoff = min(self.backoff_first * 2 ** (row.attempts - 1), 600.0) * random.uniform(0.8, 1.2)
            row.status, row.next_attempt_at = "pending", now + timedelta(seconds=backoff)
            return
        self.failed += 1
        row.status, row.attempts = "failed", row.attempts + 1
        if message is not None:
            message.status, message.error = ("skipped" if isinstance(outcome, Skipped) else "failed"), reason
        if isinstance(outcome, Blocked):
            # The person blocked the bot: nothing else queued for them can arrive.
            if item.beneficiary_id is not None:
                await session.execute(
                    update(Beneficiary).where(Beneficiary.id == item.beneficiary_id).values(blocked=True)
                )
            await session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.channel == item.channel,
                    OutboxItem.chat_id == item.chat_id,
                    OutboxItem.status == "pending",
                )
                .values(status="failed", last_error=reason)
            )
