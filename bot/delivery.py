"""The delivery worker: reads the outbox and sends, in order per chat, paced to the channel's limits.

Every send's result is recorded on the outbox row and on the transcript line: the channel's
message id and `sent`, or the reason it failed. A 429 pauses all sending for its `retry_after`;
server errors and timeouts are retried with exponential back-off; a 400 is a permanent failure;
a 403 marks the person as having blocked the bot. Sending is at-least-once: only a message in
flight at the moment of a crash can go out twice.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from bot.channels import Blocked, RetryLater, Sent, SendError, Transient
from bot.clock import Clock
from bot.outbox import LANE_CASEWORKER, LANE_REPLY
from bot.ratelimit import Limiter
from db.models import Beneficiary, Message, OutboxItem
from db.session import Database

log = logging.getLogger(__name__)

MAX_TRANSIENT_ATTEMPTS = 12  # about two hours of back-off before a message is given up
LEASE = timedelta(minutes=2)
PACED_METHODS = frozenset({"sendMessage", "sendDocument"})  # answering a button press is not a message  # a claim older than this belongs to a worker that died


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


class Delivery:
    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        clock: Clock,
        limiter: Limiter,
        worker_id: str,
        concurrency: int = 32,
        backoff_first: float = 2.0,
        bulk_held: int = 50,
        on_event: Callable[[str, Claimed], Awaitable[None] | None] | None = None,
    ) -> None:
        self.db = db
        self.senders = senders
        self.clock = clock
        self.limiter = limiter
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.backoff_first = backoff_first
        self.on_event = on_event
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._ready: list[tuple[int, int, Claimed]] = []  # claimed, waiting for the limits: (lane, id, item)
        self._ready_changed = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        # Bulk lanes (follow-ups, announcements) are claimed only a little ahead of what the rate allows.
        self.bulk_held = bulk_held
        self.sent = 0
        self.failed = 0
        self.throttled = 0

    def wake(self) -> None:
        self._wake.set()

    async def release_stale_claims(self) -> int:
        """Rows claimed by this worker before a restart, or by a worker that died, go back to the queue."""
        cutoff = self.clock.now() - LEASE
        async with self.db.transaction() as session:
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.status == "sending",
                       (OutboxItem.claimed_by == self.worker_id) | (OutboxItem.claimed_at < cutoff))
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
            return result.rowcount or 0  # type: ignore[attr-defined]

    async def _claim(self, limit: int, lanes: tuple[int, int]) -> list[Claimed]:
        now = self.clock.now()
        earlier = aliased(OutboxItem)
        head = ~exists().where(
            and_(earlier.channel == OutboxItem.channel, earlier.chat_id == OutboxItem.chat_id,
                 earlier.status.in_(("pending", "sending")), earlier.id < OutboxItem.id)
        )
        query = (
            select(OutboxItem)
            .where(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now, head,
                   OutboxItem.lane.between(*lanes), OutboxItem.channel.in_(tuple(self.senders)))
            .order_by(OutboxItem.lane, OutboxItem.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=OutboxItem)
        async with self.db.transaction() as session:
            rows = (await session.execute(query)).scalars().all()
            claimed = []
            for row in rows:
                row.status = "sending"
                row.claimed_by = self.worker_id
                row.claimed_at = now
                claimed.append(Claimed(row.id, row.channel, row.chat_id, row.method, dict(row.payload),
                                       row.attempts, row.message_id, row.beneficiary_id, row.lane))
            return claimed

    async def run_once(self) -> int:
        """Claim what is due into the ready queue: live lanes always, bulk lanes only as far as they can go soon."""
        live = await self._claim(self.concurrency, (LANE_REPLY, LANE_CASEWORKER))
        bulk_room = self.bulk_held - sum(1 for _, _, item in self._ready if item.lane > LANE_CASEWORKER)
        bulk = await self._claim(bulk_room, (LANE_CASEWORKER + 1, 99)) if bulk_room > 0 else []
        for item in (*live, *bulk):
            heapq.heappush(self._ready, (item.lane, item.id, item))
        if live or bulk:
            self._ready_changed.set()
        return len(live) + len(bulk)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def run(self, stop: asyncio.Event) -> None:
        await self.release_stale_claims()
        dispatcher = asyncio.create_task(self._dispatch(stop), name="dispatch")
        while not stop.is_set():
            self._wake.clear()  # before claiming: a wake-up during the claim must not be lost
            try:
                started = await self.run_once()
            except Exception:
                log.exception("claiming from the outbox failed; retrying")
                started = 0
                await asyncio.sleep(1.0)
            if started == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass
        self._ready_changed.set()
        await dispatcher
        await self.drain()

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
            now = loop.time()
            shortest = 0.05
            started = False
            for entry in sorted(self._ready):
                item = entry[2]
                if item.method not in PACED_METHODS:
                    wait, scope = 0.0, ""
                elif chat_not_before.get(item.chat_id, 0.0) > now:
                    continue
                else:
                    wait, scope = await self.limiter.acquire(item.chat_id)
                if wait <= 0:
                    self._ready.remove(entry)
                    heapq.heapify(self._ready)
                    task = asyncio.create_task(self._deliver(item))
                    self._inflight.add(task)
                    task.add_done_callback(self._done_slot)
                    started = True
                    break
                if scope == "chat":
                    chat_not_before[item.chat_id] = now + wait
                    shortest = min(shortest, wait)
                    continue
                shortest = min(shortest, wait)
                break  # a global limit or a pause holds every chat
            if not started:
                self._slots.release()
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
            await session.execute(update(OutboxItem).where(OutboxItem.id.in_([i.id for i in items]))
                                  .values(status="pending", claimed_by=None, claimed_at=None))

    async def _deliver(self, item: Claimed) -> None:
        outcome: Sent | SendError
        try:
            outcome = await self.senders[item.channel].send(item.method, item.chat_id, item.payload)
        except SendError as exc:
            outcome = exc
        except Exception as exc:  # an unexpected client error is treated as transient, never lost
            log.exception("unexpected send error")
            outcome = Transient(f"{type(exc).__name__}: {exc}")
        if isinstance(outcome, RetryLater):
            self.throttled += 1
            await self.limiter.pause(outcome.seconds + random.uniform(0.05, 0.5))
        await self._record(item, outcome)

    async def _record(self, item: Claimed, outcome: Sent | SendError) -> None:
        now = self.clock.now()
        for attempt in range(5):
            try:
                async with self.db.transaction() as session:
                    await self._apply(session, item, outcome, now)
                break
            except Exception:  # the database may be briefly away; the send itself already happened
                log.exception("recording a send result failed", extra={"attempt": attempt})
                await asyncio.sleep(0.5 * 2**attempt)
        if self.on_event is not None:
            result = self.on_event("sent" if isinstance(outcome, Sent) else type(outcome).__name__, item)
            if result is not None:
                await result

    async def _apply(self, session: Any, item: Claimed, outcome: Sent | SendError, now: datetime) -> None:
        row = await session.get(OutboxItem, item.id)
        if row is None:
            return
        message = await session.get(Message, item.message_id) if item.message_id else None
        row.claimed_by = None
        row.claimed_at = None
        if isinstance(outcome, Sent):
            self.sent += 1
            row.status, row.sent_at, row.attempts = "sent", now, row.attempts + 1
            if item.message_id is None or item.method == "sendDocument":
                row.payload = {}  # nothing beyond the transcript keeps what was sent
            if item.message_id is None:
                row.chat_id = ""  # nor to whom, once it is no longer needed for ordering
            if message is not None:
                message.status, message.sent_at = "sent", now
                message.channel_message_id = outcome.channel_message_id
            return
        reason = str(outcome)[:2000]
        row.last_error = reason
        log.warning("send not delivered", extra={"outbox_id": item.id, "outcome": type(outcome).__name__,
                                                 "attempts": row.attempts + 1})
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
            message.status, message.error = "failed", reason
        if isinstance(outcome, Blocked):
            # The person blocked the bot: nothing else queued for them can arrive.
            if item.beneficiary_id is not None:
                await session.execute(update(Beneficiary).where(Beneficiary.id == item.beneficiary_id)
                                      .values(blocked=True))
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.channel == item.channel, OutboxItem.chat_id == item.chat_id,
                       OutboxItem.status == "pending")
                .values(status="failed", last_error=reason)
            )
