"""Delivery at Telegram's limits: replies go before a wave, 429s pause everyone, Redis shares the rate."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from bot.channels import Sent
from bot.clock import Clock
from bot.delivery import Delivery
from bot.outbox import LANE_ANNOUNCEMENT, LANE_REPLY
from bot.pacing import Pacer
from bot.ratelimit import LocalLimiter, RedisLimiter
from db.encryption import Keyring
from db.models import OutboxItem
from db.session import Database

REDIS = "redis://127.0.0.1:6379/15"


class RecordingSender:
    """A channel that records when each message went out (no network)."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, str]] = []

    async def send(self, method: str, chat_id: str, payload: dict[str, Any]) -> Sent:
        self.sent.append((time.monotonic(), chat_id, payload.get("text", "")))
        return Sent(str(len(self.sent)))


async def _queue(db: Database, chats: range, lane: int, text: str) -> None:
    now = Clock().now()
    async with db.transaction() as session:
        session.add_all(
            OutboxItem(
                channel="test",
                chat_id=str(c),
                method="sendMessage",
                payload={"text": text},
                lane=lane,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for c in chats
        )


async def _run_until(delivery: Delivery, done: Any, timeout: float = 20.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(delivery.run(stop))
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    stop.set()
    await task


async def test_a_reply_overtakes_a_wave_within_a_second(database_url: str) -> None:
    db = Database(database_url, keyring=Keyring(["k"]))
    sender = RecordingSender()
    delivery = Delivery(
        db,
        {"test": sender},
        Clock(),
        LocalLimiter(Pacer(global_rate=50, chat_rate=1, chat_burst=1)),
        worker_id="w1",
    )
    try:
        await _queue(db, range(1000, 1300), LANE_ANNOUNCEMENT, "wave")
        stop = asyncio.Event()
        task = asyncio.create_task(delivery.run(stop))
        while len(sender.sent) < 5:  # the wave is under way
            await asyncio.sleep(0.01)
        asked = time.monotonic()
        sent_when_asked = len(sender.sent)
        await _queue(db, range(1, 2), LANE_REPLY, "reply")
        delivery.wake()
        while not any(text == "reply" for _, _, text in sender.sent) and time.monotonic() - asked < 30:
            await asyncio.sleep(0.005)
        stop.set()
        await task
        texts = [text for _, _, text in sender.sent]
        waves_before_reply = texts.index("reply")
        # Counted in messages, not seconds (the machine may be slow): the reply did not queue behind the
        # wave; at most about one second's worth of it (50 a second here) went out in between.
        assert waves_before_reply - sent_when_asked <= 50
        assert waves_before_reply < 300  # it overtook a wave that was still sending
    finally:
        await db.dispose()


async def test_the_global_rate_holds_within_a_process(database_url: str) -> None:
    db = Database(database_url, keyring=Keyring(["k"]))
    sender = RecordingSender()
    delivery = Delivery(
        db,
        {"test": sender},
        Clock(),
        LocalLimiter(Pacer(global_rate=40, chat_rate=1, chat_burst=1)),
        worker_id="w1",
    )
    try:
        await _queue(db, range(1, 161), LANE_ANNOUNCEMENT, "wave")
        await _run_until(delivery, lambda: len(sender.sent) >= 160)
        times = sorted(at for at, _, _ in sender.sent)
        assert len(times) == 160
        for i in range(len(times)):  # no one-second window holds more than rate + burst
            assert sum(1 for t in times[i : i + 60] if t - times[i] < 1.0) <= 40 + 8
        async with db.sessions() as session:
            assert (
                await session.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "sent"))
            ).scalar_one() == 160
    finally:
        await db.dispose()


async def test_three_workers_share_one_global_rate_through_redis(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several delivery workers need PostgreSQL (SQLite serves one process)")
    redis = RedisLimiter(REDIS, Pacer(global_rate=30, chat_rate=1, chat_burst=1), prefix="test-rate")
    try:
        await redis.redis.ping()
    except OSError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    await redis.redis.flushdb()
    dbs = [Database(database_url, keyring=Keyring(["k"])) for _ in range(3)]
    sender = RecordingSender()
    workers = [
        Delivery(
            db,
            {"test": sender},
            Clock(),
            RedisLimiter(REDIS, Pacer(global_rate=30, chat_rate=1, chat_burst=1), prefix="test-rate"),
            worker_id=f"w{i}",
        )
        for i, db in enumerate(dbs)
    ]
    try:
        await _queue(dbs[0], range(1, 151), LANE_ANNOUNCEMENT, "wave")
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        deadline = time.monotonic() + 20
        while len(sender.sent) < 150 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.gather(*tasks)
        times = sorted(at for at, _, _ in sender.sent)
        assert len(times) == 150 and len({chat for _, chat, _ in sender.sent}) == 150  # each once
        assert sum(1 for w in workers if w.sent > 0) >= 2  # the work was shared
        span = times[-1] - times[0]
        assert span >= (150 - 6) / 30 * 0.95  # together they stayed under 30 a second
    finally:
        for w in workers:
            await w.limiter.close()  # type: ignore[attr-defined]
        await redis.close()
        for db in dbs:
            await db.dispose()


async def test_a_429_pauses_all_sending(homeward: Homeward) -> None:
    limiter = homeward.limiter
    await limiter.pause(0.5)
    wait, scope = await limiter.acquire("42")
    assert scope == "pause" and 0.3 < wait <= 0.5


async def test_sending_goes_on_when_redis_is_unreachable() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:9/0", Pacer(global_rate=30, chat_rate=1, chat_burst=1))
    try:
        started = time.monotonic()
        waits = [await limiter.acquire(str(chat)) for chat in range(12)]
        elapsed = time.monotonic() - started
        assert waits[0] == (0.0, "")  # sent, within this process's own share of the limit
        # A third of 30 a second, plus its burst of 2: however long the loop took on this machine.
        assert sum(1 for wait, _ in waits if wait == 0) <= 2 + 10 * elapsed + 1
        await limiter.pause(1.0)
        assert (await limiter.acquire("99"))[1] == "pause"
    finally:
        await limiter.close()
