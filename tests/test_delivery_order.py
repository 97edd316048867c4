"""A person's replies are claimed ahead and still sent one at a time, in order, whatever happens to the first."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from bot.channels import Blocked, Sent, Transient
from bot.clock import Clock
from bot.delivery import Delivery
from bot.lookups import Coalesced
from bot.pacing import Pacer
from bot.ratelimit import LocalLimiter
from db.encryption import Keyring
from db.models import OutboxItem
from db.session import Database


class HeldSender:
    """Sends at once, except what `hold` returns a gate or an error for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # every attempt, in order: (chat, text)
        self.sent: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.errors: dict[str, list[Exception]] = {}

    async def send(self, method: str, chat_id: str, payload: dict[str, Any]) -> Sent:
        text = str(payload["text"])
        self.calls.append((chat_id, text))
        if text in self.gates:
            await self.gates[text].wait()
        errors = self.errors.get(text)
        if errors:
            raise errors.pop(0)
        self.sent.append((chat_id, text))
        return Sent(str(len(self.sent)))


async def _queue(db: Database, rows: list[tuple[str, str]]) -> None:
    now = Clock().now()
    async with db.transaction() as session:
        session.add_all(
            OutboxItem(
                channel="test",
                chat_id=chat,
                method="sendMessage",
                payload={"text": text},
                lane=0,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for chat, text in rows
        )


async def _rows(db: Database, chat: str) -> list[tuple[str, str, str | None]]:
    async with db.sessions() as session:
        found = await session.execute(
            select(OutboxItem.payload, OutboxItem.status, OutboxItem.claimed_by)
            .where(OutboxItem.chat_id == chat)
            .order_by(OutboxItem.id)
        )
        return [(payload.get("text", ""), status, claimed) for payload, status, claimed in found.all()]


async def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def _delivery(db: Database, sender: HeldSender) -> Delivery:
    pacer = Pacer(global_rate=10_000, chat_rate=10_000, chat_burst=100)
    return Delivery(db, {"test": sender}, Clock(), LocalLimiter(pacer), worker_id="w1", backoff_first=0.05)


def _texts(sender: HeldSender, chat: str) -> list[str]:
    return [text for to, text in sender.sent if to == chat]


async def test_the_next_replies_are_claimed_while_the_first_is_on_its_way_and_wait_for_it(database_url: str) -> None:
    db = Database(database_url, keyring=Keyring(["k"]))
    sender = HeldSender()
    sender.gates["a1"] = asyncio.Event()
    delivery = _delivery(db, sender)
    stop = asyncio.Event()
    try:
        await _queue(db, [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("a", "a3")])
        task = asyncio.create_task(delivery.run(stop))
        await _wait(lambda: _texts(sender, "b") == ["b1", "b2"])
        # a1 is on its way: a2 and a3 are already claimed by this worker, and not sent before it.
        await _wait(lambda: len(delivery._ready) == 2)
        assert await _rows(db, "a") == [("a1", "sending", "w1"), ("a2", "sending", "w1"), ("a3", "sending", "w1")]
        assert [c for c in sender.calls if c[0] == "a"] == [("a", "a1")]
        sender.gates["a1"].set()
        await _wait(lambda: len(_texts(sender, "a")) == 3)
        assert _texts(sender, "a") == ["a1", "a2", "a3"]
        await _wait(lambda: delivery.sent == 5)
        async with db.sessions() as session:  # a sent row without a transcript line keeps no chat
            statuses = (await session.execute(select(OutboxItem.status))).scalars().all()
        assert statuses == ["sent"] * 5
        stop.set()
        await task
    finally:
        stop.set()
        await db.dispose()


async def test_a_failed_send_takes_the_rows_claimed_behind_it_back_and_they_follow_its_retry(
    database_url: str,
) -> None:
    db = Database(database_url, keyring=Keyring(["k"]))
    sender = HeldSender()
    sender.gates["a1"] = asyncio.Event()
    sender.errors["a1"] = [Transient("502 Bad Gateway")]
    delivery = _delivery(db, sender)
    delivery.backoff_first = 1.0  # long enough to look at the queue while a1 waits for its retry
    stop = asyncio.Event()
    try:
        await _queue(db, [("a", "a1"), ("a", "a2"), ("a", "a3")])
        task = asyncio.create_task(delivery.run(stop))
        await _wait(lambda: len(delivery._ready) == 2)  # a2 and a3 claimed behind a1
        sender.gates["a1"].set()
        await _wait(lambda: not delivery._ready and not delivery._busy)
        # Back in the queue, behind a1 again; nobody holds them, and nothing overtook a1.
        assert await _rows(db, "a") == [("a1", "pending", None), ("a2", "pending", None), ("a3", "pending", None)]
        assert sender.sent == []
        await _wait(lambda: len(sender.sent) == 3)
        assert _texts(sender, "a") == ["a1", "a2", "a3"]
        assert sender.calls == [("a", "a1"), ("a", "a1"), ("a", "a2"), ("a", "a3")]
        stop.set()
        await task
    finally:
        stop.set()
        await db.dispose()


async def test_a_block_fails_the_rows_claimed_behind_it_unsent(database_url: str) -> None:
    db = Database(database_url, keyring=Keyring(["k"]))
    sender = HeldSender()
    sender.gates["a1"] = asyncio.Event()
    sender.errors["a1"] = [Blocked("Forbidden: bot was blocked by the user")]
    delivery = _delivery(db, sender)
    stop = asyncio.Event()
    try:
        await _queue(db, [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")])
        task = asyncio.create_task(delivery.run(stop))
        await _wait(lambda: len(delivery._ready) == 2)
        sender.gates["a1"].set()
        await _wait(lambda: delivery.failed == 1 and not delivery._busy)
        await _wait(lambda: _texts(sender, "b") == ["b1"])
        assert [(t, s) for t, s, _ in await _rows(db, "a")] == [("a1", "failed"), ("a2", "failed"), ("a3", "failed")]
        assert [c for c in sender.calls if c[0] == "a"] == [("a", "a1")]
        stop.set()
        await task
    finally:
        stop.set()
        await db.dispose()


async def test_lookups_asked_together_are_one_query_and_a_failure_reaches_each_asker() -> None:
    asked: list[list[str]] = []

    async def fetch(keys: list[str]) -> dict[str, int]:
        asked.append(sorted(keys))
        if "boom" in keys:
            raise RuntimeError("database away")
        return {key: len(key) for key in keys if key != "absent"}

    lookup: Coalesced[str, int | None] = Coalesced(fetch, None)
    answers = await asyncio.gather(*(lookup.get(k) for k in ["a", "bb", "absent", "bb"]))
    assert answers == [1, 2, None, 2]
    assert asked == [["a", "absent", "bb"]]
    failed = await asyncio.gather(lookup.get("boom"), lookup.get("ccc"), return_exceptions=True)
    assert [type(a) for a in failed] == [RuntimeError, RuntimeError]
    assert await lookup.get("dddd") == 4  # asked after the failure: a fresh query
    assert asked[-1] == ["dddd"]
