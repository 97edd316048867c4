"""Delivery survives faults: a flaky Bot API, a worker killed mid-wave, and the database dropping connections.

Against the fake Bot API: 502s, 429s with retry_after, reset connections and a 5-second stall still
deliver every message exactly once, in order per chat. A `homeward worker` process killed with
SIGKILL in the middle of a 2,000-message wave and restarted loses nothing and keeps each chat's
order; only messages in flight at the kill can arrive twice, and those are counted. PostgreSQL
terminating every connection while intake and delivery run costs a retry, not a restart.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import TelegramNetworkError
from sqlalchemy import func, select, text

from bot.app import Homeward
from bot.channels import Transient, telegram
from bot.clock import Clock, FixedClock
from bot.config import Settings
from bot.delivery import Delivery
from bot.outbox import LANE_ANNOUNCEMENT, LANE_FOLLOWUP
from bot.pacing import Pacer
from bot.ratelimit import LocalLimiter
from db.encryption import Keyring
from db.models import InboxUpdate, OutboxItem
from db.session import Database, create_engine, first_in_line
from tests.fakebot import TOKEN, FakeBotApi, Fault, Person
from tests.processes import process_env

WORKER_CONCURRENCY = 16


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: several processes share one database; SQLite serves a single process")


async def _queue_wave(
    db: Database, per_chat: dict[int, int], lane: int = LANE_ANNOUNCEMENT, clock: Clock | None = None
) -> dict[str, list[str]]:
    """Queue `per_chat[chat]` numbered messages per chat; returns the texts each chat must get, in order."""
    now = (clock or Clock()).now()
    expected: dict[str, list[str]] = {}
    rows = []
    # Interleaved across chats, the way a wave and its follow-up parts are queued.
    for n in range(max(per_chat.values())):
        for chat, count in per_chat.items():
            if n < count:
                expected.setdefault(str(chat), []).append(f"c{chat} m{n}")
                rows.append(
                    OutboxItem(
                        channel=telegram.CHANNEL,
                        chat_id=str(chat),
                        method="sendMessage",
                        payload={"text": f"c{chat} m{n}"},
                        lane=lane,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    async with db.transaction() as session:
        session.add_all(rows)
    return expected


def _received(fake: FakeBotApi) -> dict[str, list[str]]:
    by_chat: dict[str, list[str]] = defaultdict(list)
    for params in fake.sent("sendMessage"):
        by_chat[str(params["chat_id"])].append(params["text"])
    return by_chat


def _collapse(texts: list[str]) -> list[str]:
    """A chat's texts with immediate repeats removed (a resend follows its first copy directly)."""
    return [t for i, t in enumerate(texts) if i == 0 or texts[i - 1] != t]


async def _statuses(db: Database) -> dict[str, int]:
    async with db.sessions() as session:
        rows = await session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status))
        return {status: count for status, count in rows.all()}


async def _until(condition: Callable[[], Any], seconds: float, what: str) -> None:
    """Wait (bounded) until `condition()` is true; a coroutine condition is awaited."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {seconds:.0f} s: {what}")
        await asyncio.sleep(0.05)


# ---- a flaky Bot API ---------------------------------------------------------------------------


class FlakyApi:
    """Answers 10 % of sends with 502, and injects a few 429s, resets and one 5-second stall."""

    def __init__(self, seed: int = 7) -> None:
        self.random = random.Random(seed)
        self.calls = 0
        self.injected: Counter[str] = Counter()

    def __call__(self, method: str, params: dict[str, Any]) -> Fault | None:
        if method != "sendMessage":
            return None
        self.calls += 1
        scripted = {
            20: Fault(stall=5.0),
            40: Fault(429, "Too Many Requests: retry after 1", retry_after=1),
            90: Fault(reset=True),
            130: Fault(429, "Too Many Requests: retry after 1", retry_after=1),
            150: Fault(reset=True),
        }
        fault = scripted.get(self.calls)
        if fault is None and self.random.random() < 0.10:
            fault = Fault(502, "Bad Gateway")
        elif fault is None and self.random.random() < 0.02:
            fault = Fault(reset=True)
        if fault is not None:
            kind = "stall" if fault.stall else "reset" if fault.reset else str(fault.code)
            self.injected[kind] += 1
        return fault


async def test_a_flaky_bot_api_still_gets_every_message_once_in_order(database_url: str, fake: FakeBotApi) -> None:
    flaky = FlakyApi()
    fake.injector = flaky
    db = Database(database_url, keyring=Keyring(["k"]))
    bot = telegram.make_bot(TOKEN, fake.base)
    delivery = Delivery(
        db,
        {telegram.CHANNEL: telegram.TelegramSender(bot)},
        Clock(),
        LocalLimiter(Pacer(global_rate=500, chat_rate=100, chat_burst=10)),
        worker_id="flaky",
        backoff_first=0.05,
    )
    stop = asyncio.Event()
    try:
        # 80 chats get one message, 40 chats three: 200 messages.
        expected = await _queue_wave(db, {**{c: 1 for c in range(1, 81)}, **{c: 3 for c in range(81, 121)}})
        task = asyncio.create_task(delivery.run(stop))
        await _until(lambda: sum(len(v) for v in _received(fake).values()) >= 200, 60, "200 messages sent")
        await _until(lambda: _sent_all(db, 200), 20, "every row recorded as sent")
        stop.set()
        await task
        received = _received(fake)
        assert received == expected  # each message exactly once, each chat in order
        assert flaky.injected["stall"] == 1 and flaky.injected["429"] == 2 and flaky.injected["reset"] >= 2
        assert flaky.injected["502"] >= 10
        assert delivery.throttled == 2  # each 429 paused all sending; none was lost
        assert await _statuses(db) == {"sent": 200}
    finally:
        stop.set()
        await bot.session.close()
        await db.dispose()


async def _sent_all(db: Database, count: int) -> bool:
    return (await _statuses(db)).get("sent", 0) == count


async def _queue_calls(homeward: Homeward, chat_id: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
    """Outbox rows for one chat, due now, and delivery woken."""
    now = Clock().now()
    async with homeward.db.transaction() as session:
        for method, payload in calls:
            session.add(
                OutboxItem(
                    channel=telegram.CHANNEL,
                    chat_id=chat_id,
                    method=method,
                    payload=payload,
                    lane=0,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    homeward.delivery.wake()


async def test_text_goes_out_as_plain_text_so_markup_characters_cannot_fail_a_send(
    homeward: Homeward, fake: FakeBotApi
) -> None:
    tricky = "<b>Prishtinë</b> & Mitrovicë_e_Veriut *2* [link](x) <unclosed _under"
    await _queue_calls(homeward, "5100", [("sendMessage", {"text": tricky})])
    await fake.wait_sent(1, 5100)
    sent = fake.sent("sendMessage", 5100)[0]
    assert sent["text"] == tricky and "parse_mode" not in sent  # sent as typed, nothing for Telegram to parse


async def test_calls_without_a_file_go_as_json_and_a_document_as_a_form(homeward: Homeward, fake: FakeBotApi) -> None:
    """The Bot API takes either; a long answer is cheaper to send as JSON, a file needs multipart."""
    answer = "Letërnjoftimi: shkoni në zyrën e gjendjes civile. Лична карта: општина. " * 20
    buttons = [[{"text": "Më shumë", "data": "kb:more:id"}], [{"text": "Да", "data": "kb:yes:1"}]]
    document = {"caption": "Të dhënat tuaja", "file_name": "data.json", "content": '{"a": "ë"}'}
    await _queue_calls(
        homeward, "5200", [("sendMessage", {"text": answer, "buttons": buttons}), ("sendDocument", document)]
    )
    await fake.wait_for(lambda: len([c for c in fake.calls if c.method in ("sendMessage", "sendDocument")]) >= 2, 5)
    text, sent_document = [c for c in fake.calls if c.method in ("sendMessage", "sendDocument")]
    assert text.content_type == "application/json"
    assert text.params["chat_id"] == 5200 and text.params["text"] == answer
    assert text.params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Më shumë", "callback_data": "kb:more:id"}],
            [{"text": "Да", "callback_data": "kb:yes:1"}],
        ]
    }
    assert sent_document.content_type == "multipart/form-data"
    attached = sent_document.params[sent_document.params["document"].removeprefix("attach://")]
    assert attached == {"filename": "data.json", "content": '{"a": "ë"}'.encode()}
    assert sent_document.params["caption"] == "Të dhënat tuaja"


async def test_a_json_call_that_stalls_past_its_timeout_is_a_network_error(fake: FakeBotApi) -> None:
    fake.injector = lambda method, params: Fault(stall=2.0) if method == "sendMessage" else None
    bot = telegram.make_bot(TOKEN, fake.base, timeout=0.3)
    try:
        with pytest.raises(TelegramNetworkError, match="timeout"):  # aiogram's error, as its own session raises
            await bot(telegram.SendText(chat_id=5300, text="a"))
        with pytest.raises(Transient):  # which delivery retries later
            await telegram.TelegramSender(bot).send("sendMessage", "5300", {"text": "a"})
    finally:
        await bot.session.close()


# ---- leases: a dead worker's claims come back, a live worker's stay its own ----------------------


async def test_claims_of_a_dead_worker_return_after_the_lease_and_a_live_worker_keeps_its_own(
    database_url: str,
) -> None:
    clock = FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    db = Database(database_url, keyring=Keyring(["k"]))
    lease = timedelta(minutes=2)

    def worker(name: str) -> Delivery:
        return Delivery(
            db,
            {telegram.CHANNEL: _NeverSender()},
            clock,
            LocalLimiter(Pacer()),
            worker_id=name,
            lease=lease,
            bulk_held=10,
        )

    live, dead, other = worker("live"), worker("dead"), worker("other")
    try:
        await _queue_wave(db, {c: 1 for c in range(1, 21)}, lane=LANE_FOLLOWUP, clock=clock)
        assert await live.run_once() == 10 and await dead.run_once() == 10
        clock.advance(timedelta(seconds=90))
        await live.keep_claims()  # the live worker renews; the dead one never will
        clock.advance(timedelta(seconds=60))  # 150 s after the claims, 60 s after the renewal
        assert await other.keep_claims() == 10  # only the dead worker's ten
        async with db.sessions() as session:
            holders = Counter(
                (await session.execute(select(OutboxItem.claimed_by).where(OutboxItem.status == "sending")))
                .scalars()
                .all()
            )
        assert holders == {"live": 10}
        assert await other.run_once() == 10  # and another worker picks them up
    finally:
        await db.dispose()


class _NeverSender:
    async def send(self, method: str, chat_id: str, payload: dict[str, Any]) -> Any:
        raise AssertionError("nothing is sent in this test")


async def test_one_scheduler_pass_at_a_time_across_processes(database_url: str) -> None:
    _postgres_only(database_url)
    first, second = (Database(database_url, keyring=Keyring(["k"])) for _ in range(2))
    try:
        async with first.transaction() as one:
            assert await first_in_line(one, "homeward:followup-pass")
            async with second.transaction() as other:  # another worker's pass meanwhile: it stands aside
                assert not await first_in_line(other, "homeward:followup-pass")
        async with second.transaction() as other:  # the lock ends with the transaction that held it
            assert await first_in_line(other, "homeward:followup-pass")
    finally:
        await first.dispose()
        await second.dispose()


# ---- kill -9 of a worker process in the middle of a wave -----------------------------------------


def _worker_env(database_url: str, fake: FakeBotApi, data_dir: Path) -> dict[str, str]:
    return process_env(
        database_url,
        fake,
        data_dir,
        # A stable worker id: restarted under it, the worker returns its own claims at once.
        HOMEWARD_WORKER_ID="worker-1",
        HOMEWARD_DELIVERY_CONCURRENCY=str(WORKER_CONCURRENCY),
        HOMEWARD_RATE_GLOBAL_PER_SECOND="2000",
        HOMEWARD_RATE_CHAT_PER_SECOND="100",
        HOMEWARD_RATE_CHAT_BURST="10",
        HOMEWARD_RETRY_FIRST_SECONDS="0.05",
        HOMEWARD_LOG_LEVEL="WARNING",
    )


@contextmanager
def _worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bot worker` in its own process; always stopped (and, if it will not stop, killed)."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            cwd=log_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


class Hold:
    """While on, the fake Bot API takes 2 seconds to answer each send: sends pile up in flight."""

    def __init__(self) -> None:
        self.on = False
        self.held = 0

    def __call__(self, method: str, params: dict[str, Any]) -> Fault | None:
        if method != "sendMessage" or not self.on:
            return None
        self.held += 1
        return Fault(stall=2.0)


async def test_a_worker_killed_mid_wave_loses_nothing_and_keeps_each_chats_order(
    database_url: str, fake: FakeBotApi, tmp_path: Path
) -> None:
    _postgres_only(database_url)
    db = Database(database_url, keyring=Keyring(["k"]))
    hold = Hold()
    fake.injector = hold
    env = _worker_env(database_url, fake, tmp_path / "data")
    log_path = tmp_path / "worker.log"
    try:
        # 2,000 messages: 500 chats get one, 500 chats get three (their order must hold).
        per_chat = {**{c: 1 for c in range(1, 501)}, **{c: 3 for c in range(501, 1001)}}
        expected = await _queue_wave(db, per_chat)
        with _worker(env, log_path) as first:
            await _until(
                lambda: len(fake.sent("sendMessage")) >= 600 or first.poll() is not None,
                90,
                "the first worker sending",
            )
            assert first.poll() is None, log_path.read_text()[-3000:]
            hold.on = True  # answers slow down, so the kill lands with sends in flight
            await _until(lambda: hold.held >= 1, 30, "sends in flight")
            await asyncio.sleep(0.3)
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
        before_restart = len(fake.sent("sendMessage"))
        await asyncio.sleep(2.5)  # held answers finish: Telegram got those messages, the worker never knew
        hold.on = False
        delivered_at_kill = len(fake.sent("sendMessage"))
        assert 600 <= before_restart and delivered_at_kill < 2000  # the kill landed mid-wave

        with _worker(env, log_path) as second:
            await _until(
                lambda: _sent_all(db, 2000) if second.poll() is None else True,
                120,
                "the restarted worker finishing the wave",
            )
            assert second.poll() is None, log_path.read_text()[-3000:]

        received = _received(fake)
        total = sum(len(texts) for texts in received.values())
        duplicates = total - 2000
        print(
            f"\nkill -9 mid-wave: {delivered_at_kill} of 2000 delivered at the kill, "
            f"{hold.held} sends held in flight, {duplicates} delivered twice after the restart"
        )
        # Nothing lost, each chat in order (a resend directly follows its first copy).
        assert {chat: _collapse(texts) for chat, texts in received.items()} == expected
        assert all(count <= 2 for texts in received.values() for count in Counter(texts).values())
        assert 0 <= duplicates <= WORKER_CONCURRENCY  # only what was in flight at the kill
        assert await _statuses(db) == {"sent": 2000}
    finally:
        await db.dispose()


# ---- the database drops every connection while intake and delivery run -------------------------


@asynccontextmanager
async def _connection_killer(database_url: str, every: float, times: int) -> AsyncIterator[list[int]]:
    """Terminate every other connection to the database `times` times, `every` seconds apart."""
    engine = create_engine(database_url)
    terminated: list[int] = []

    async def run() -> None:
        for _ in range(times):
            await asyncio.sleep(every)
            async with engine.connect() as conn:
                result = await conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                terminated.append(int(result.scalar_one()))
                await conn.commit()

    task = asyncio.create_task(run())
    try:
        yield terminated
        await task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def test_intake_and_delivery_recover_when_the_database_drops_its_connections(
    settings: Settings, fake: FakeBotApi, database_url: str
) -> None:
    _postgres_only(database_url)
    app = Homeward(settings.model_copy(update={"rate_global_per_second": 400.0}))
    await app.start()
    try:
        expected = await _queue_wave(app.db, {c: 2 for c in range(1, 201)})
        app.delivery.wake()
        people = [Person(fake, 7000 + i, f"P{i}", "sq") for i in range(40)]
        async with _connection_killer(database_url, every=0.4, times=6) as terminated:
            for person in people:
                person.says("/start")
                await asyncio.sleep(0.05)
        assert sum(terminated) > 0  # connections really were dropped, more than once
        assert len(terminated) == 6
        # Without a restart: every person gets exactly one answer, and the wave completes once.
        await _until(lambda: all(len(fake.texts(p.id)) >= 1 for p in people), 60, "every person answered")
        await _until(lambda: _sent_all(app.db, 400 + 40), 60, "every outbox row sent")
        await app.turns.wait_idle()
        assert all(len(fake.texts(p.id)) == 1 for p in people)
        wave = {chat: texts for chat, texts in _received(fake).items() if int(chat) < 7000}
        assert wave == expected
        async with app.db.sessions() as session:
            inbox = dict(
                (await session.execute(select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status))).all()
            )
        assert inbox == {"done": 40}
    finally:
        await app.stop()
