"""The delivery worker: reads the outbox and sends, in order per chat, paced to the channel's limits.

Every send's result is recorded on the outbox row and on the transcript line: the channel's
message id and `sent`, or the reason it failed. A 429 pauses all sending for its `retry_after`;
server errors and timeouts are retried with exponential back-off; a 400 is a permanent failure;
a 403 marks the person as having blocked the bot. Sending is at-least-once: only a message in
flight at the moment of a crash can go out twice.
"""

from __future__ import annotations

import asyncio
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
from bot.pacing import Pacer
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


class Delivery:
    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        clock: Clock,
        pacer: Pacer,
        worker_id: str,
        concurrency: int = 32,
        backoff_first: float = 2.0,
        on_event: Callable[[str, Claimed], Awaitable[None] | None] | None = None,
    ) -> None:
        self.db = db
        self.senders = senders
        self.clock = clock
        self.pacer = pacer
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.backoff_first = backoff_first
        self.on_event = on_event
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
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

    async def _claim(self, limit: int) -> list[Claimed]:
        now = self.clock.now()
        earlier = aliased(OutboxItem)
        head = ~exists().where(
            and_(earlier.channel == OutboxItem.channel, earlier.chat_id == OutboxItem.chat_id,
                 earlier.status.in_(("pending", "sending")), earlier.id < OutboxItem.id)
        )
        query = (
            select(OutboxItem)
            .where(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now, head,
                   OutboxItem.channel.in_(tuple(self.senders)))
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
                                       row.attempts, row.message_id, row.beneficiary_id))
            return claimed

    async def run_once(self) -> int:
        """Claim what is due and start sending it; returns how many were started."""
        free = self.concurrency - len(self._inflight)
        if free <= 0:
            return 0
        claimed = await self._claim(free)
        for item in claimed:
            task = asyncio.create_task(self._deliver(item))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def run(self, stop: asyncio.Event) -> None:
        await self.release_stale_claims()
        while not stop.is_set():
            try:
                started = await self.run_once()
            except Exception:
                log.exception("claiming from the outbox failed; retrying")
                started = 0
                await asyncio.sleep(1.0)
            if started == 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass
        await self.drain()

    async def drain(self) -> None:
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    async def _pace(self, chat_id: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wait = self.pacer.wait_time(chat_id, loop.time())
            if wait <= 0:
                self.pacer.take(chat_id, loop.time())
                return
            await asyncio.sleep(wait)

    async def _deliver(self, item: Claimed) -> None:
        if item.method in PACED_METHODS:
            await self._pace(item.chat_id)
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
            self.pacer.pause(outcome.seconds + random.uniform(0.05, 0.5), asyncio.get_running_loop().time())
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
