"""Delivery at Telegram's limits and intake across processes, against the fake Bot API, in one run.

Three measurements, all on PostgreSQL (a fresh database created next to the one given, dropped at
the end), with the fake Bot API server (the one the tests use) in its own process so its CPU does not
count against Homeward. Times are taken on the server's clock (monotonic, shared by the processes).

(a) Wave dispatch. 3,000 follow-up messages (transcript line + outbox row each, as a real wave is
    queued) to 3,000 chats; the server enforces 300 messages/s overall and 1/s per chat and answers
    429 beyond that, like Telegram at ten times its real limit. Homeward's global rate is the
    server's limit minus a margin (default 5 %: 285/s) with a global burst of 3: the burst absorbs
    event-loop jitter, the rest of the margin sends that bunch up between Homeward and the server.
    Reported: time from queueing to the last message arriving against the ideal (3,000 / 300 =
    10 s; target within 10 %), and the 429s received (target 0).
(b) Live latency under a wave. The same wave again while people write to the bot (by long polling,
    one new person every 0.1 s saying /start): time from the message reaching the server to the
    bot's reply reaching it, p50 and p99; first without a wave, then during one.
(c) Intake throughput: N `homeward bot --webhook` processes (N = 1, 2, 4) behind one database, each
    storing webhook updates, running turns and delivering (per-chat order across processes comes
    from the engine's advisory lock); a load generator posts updates round-robin over 40 connections
    (Telegram's default `max_connections`) the way a load balancer in front of them would. Polling
    cannot be shared: only one getUpdates consumer may exist per bot, so webhooks are the honest
    scale-out design. Each person is onboarded first (untimed), then sends five questions the
    knowledge base answers in one message. Pacing and the flood notice are raised out of the way,
    as in bench/telegram_throughput.py. Measured from the first post to the last reply on the server,
    against a bare aiogram echo bot behind aiogram's own webhook handler, in one process, same load.

Run: python -m bench.delivery_scale [--postgres URL] [--margin 0.05] [--people 200] [--messages 5]
     [--processes 1,2,4] [--skip-wave] [--skip-intake]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.api_process import ApiProcess
from bot.app import Homeward
from bot.clock import Clock
from bot.config import Settings
from bot.outbox import LANE_FOLLOWUP, queue_reply
from db.migrate import upgrade_async
from db.models import Beneficiary, Conversation
from db.session import create_engine
from handlers.turn import Reply
from tests.fakebot import TOKEN, FakeBotApi, Person

ROOT = Path(__file__).resolve().parents[1]
SERVER_GLOBAL, SERVER_CHAT = 300.0, 1.0
WAVE = 3000
WEBHOOK_SECRET = "bench-secret"
WEBHOOK_CONNECTIONS = 40
PROBE_UPDATES = 2_000_000_000  # update ids of the live probes, apart from the intake runs' (deduplicated)
QUESTIONS = (  # questions in people's own words that the knowledge base answers in one message
    "Kam humbur letërnjoftimin, si të marr një të ri?",
    "Ku mund të shkoj te mjeku?",
    "Si ta regjistroj djalin në shkollë pas kthimit?",
    "A kam të drejtë për pakon e riintegrimit nga shteti?",
    "Ku mund të marr certifikatë martese?",
)


# ---- the fake server, in its own process -------------------------------------------------------


class MeasuringBotApi(FakeBotApi):
    """The fake Bot API, also noting when each update was queued and when each send arrived."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.reset()

    def limits(self, global_limit: float | None, chat_limit: float | None) -> None:
        self.global_limit, self.chat_limit = global_limit, chat_limit
        self.reset()

    def reset(self) -> None:
        self.calls.clear()
        self.throttled = 0
        self.sends = 0
        self.first_send: float | None = None
        self.last_send: float | None = None
        self.pushed_at: dict[str, float] = {}
        self.first_reply: dict[str, float] = {}
        self.per_chat: Counter[str] = Counter()

    def push_all(self, updates: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        for update in updates:
            self.pushed_at.setdefault(str(update["message"]["chat"]["id"]), now)
            self.push(update)

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        result = super()._result(method, params)
        if method == "sendMessage":
            now = time.monotonic()
            chat = str(params["chat_id"])
            self.sends += 1
            self.first_send = self.first_send or now
            self.last_send = now
            self.first_reply.setdefault(chat, now)
            self.per_chat[chat] += 1
        self.calls.clear()  # nothing reads them here; a long run should not keep them
        return result

    async def wait_sends(self, count: int, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while self.sends < count and time.monotonic() < deadline:
            self._sent_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent_event.wait(), 0.01)
        return {
            "sends": self.sends,
            "first_send": self.first_send,
            "last_send": self.last_send,
            "throttled": self.throttled,
            "pushed_at": self.pushed_at,
            "first_reply": self.first_reply,
            "per_chat": dict(self.per_chat),
        }


class Server(ApiProcess):
    """The bench's handle on the measuring server's process."""

    def __init__(self) -> None:
        super().__init__(MeasuringBotApi)

    async def limits(self, global_limit: float | None, chat_limit: float | None) -> None:
        await self.ask(10, "limits", global_limit, chat_limit)

    async def push(self, updates: list[dict[str, Any]]) -> None:
        await self.ask(30, "push_all", updates)

    async def wait(self, sends: int, seconds: float) -> dict[str, Any]:
        return cast(dict[str, Any], await self.ask(seconds + 30, "wait_sends", sends, seconds))


# ---- updates, as people send them --------------------------------------------------------------


class Updates:
    """Collects the updates `Person` builds, numbering them the way Telegram does."""

    def __init__(self, first_id: int) -> None:
        self.updates: list[dict[str, Any]] = []
        self._ids = itertools.count(first_id)

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._ids), **update}
        self.updates.append(update)
        return update

    def people(self, first_user: int, count: int) -> list[Person]:
        return [Person(cast(FakeBotApi, self), first_user + i, f"P{i}", "sq") for i in range(count)]


# ---- (a) and (b): a wave, alone and under live traffic ------------------------------------------


@dataclass
class WaveResult:
    seconds: float
    first_to_last: float
    sends: int
    throttled_server: int
    throttled_bot: int


def _settings(database_url: str, base: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        telegram_token=TOKEN,
        telegram_api_base=base,
        secret_key="bench-secret-key",
        data_dir=data_dir,
        poll_timeout_seconds=1,
        log_level="WARNING",
        kb_embeddings=False,  # lexical ranking: bench.kb_eval prints what the embeddings cost per question
        _env_file=None,
        **extra,
    )  # type: ignore[call-arg]


async def queue_wave(app: Homeward, first_chat: int, count: int) -> None:
    """`count` follow-up messages to as many people, each a transcript line and an outbox row."""
    now = Clock().now()
    async with app.db.transaction() as session:  # one commit: the whole wave becomes due at once
        for start in range(0, count, 500):
            people = [
                Beneficiary(
                    channel="telegram",
                    channel_ref=secrets.token_hex(20),
                    consent="given",
                    opted_out=False,
                    blocked=False,
                    created_at=now,
                    chat_id=str(first_chat + i),
                    locale="sq",
                )
                for i in range(start, min(start + 500, count))
            ]
            session.add_all(people)
            await session.flush()
            talks = [Conversation.opened(p.id, now) for p in people]
            session.add_all(talks)
            await session.flush()
            for person, talk in zip(people, talks, strict=True):
                await queue_reply(
                    session,
                    person=person,
                    conversation=talk,
                    chat_id=person.chat_id or "",
                    reply=Reply("Pershendetje! Është koha për pyetjet e ndjekjes (3 muaj)."),
                    now=now,
                    lane=LANE_FOLLOWUP,
                )


async def run_wave(
    app: Homeward, server: Server, first_chat: int, probes: int = 0, probe_user: int = 0
) -> tuple[WaveResult, list[float]]:
    """Queue a wave and start it, with live probes meanwhile; the wave's figures and the probes' latencies."""
    await server.limits(SERVER_GLOBAL, SERVER_CHAT)
    await queue_wave(app, first_chat, WAVE)
    started = time.monotonic()
    throttled_before = app.delivery.throttled
    app.delivery.wake()
    batch = Updates(first_id=PROBE_UPDATES + probe_user)
    people = batch.people(probe_user, probes)
    for person in people:  # one new person every 0.1 s writes to the bot while the wave goes out
        await asyncio.sleep(0.1)
        person.says("/start")
        await server.push(batch.updates[-1:])
    stats = await server.wait(WAVE + probes, seconds=120)
    latencies = [
        stats["first_reply"][str(p.id)] - stats["pushed_at"][str(p.id)]
        for p in people
        if str(p.id) in stats["first_reply"]
    ]
    result = WaveResult(
        seconds=(stats["last_send"] or started) - started,
        first_to_last=(stats["last_send"] or 0) - (stats["first_send"] or 0),
        sends=stats["sends"],
        throttled_server=stats["throttled"],
        throttled_bot=app.delivery.throttled - throttled_before,
    )
    return result, latencies


async def live_latency_alone(app: Homeward, server: Server, probes: int, probe_user: int) -> list[float]:
    await server.limits(SERVER_GLOBAL, SERVER_CHAT)
    batch = Updates(first_id=PROBE_UPDATES + probe_user)
    people = batch.people(probe_user, probes)
    for person in people:
        await asyncio.sleep(0.1)
        person.says("/start")
        await server.push(batch.updates[-1:])
    stats = await server.wait(probes, seconds=60)
    return [
        stats["first_reply"][str(p.id)] - stats["pushed_at"][str(p.id)]
        for p in people
        if str(p.id) in stats["first_reply"]
    ]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def waves(database_url: str, server: Server, margin: float, workdir: Path) -> list[str]:
    rate = SERVER_GLOBAL * (1 - margin)
    burst = 3.0  # a few tokens absorb event-loop jitter; the rest of the margin, sends bunching on the way
    settings = _settings(
        database_url, server.base, workdir / "wave", rate_global_per_second=rate, rate_global_burst=burst
    )
    app = Homeward(settings)
    await app.start(polling=True)
    try:
        ideal = WAVE / SERVER_GLOBAL
        alone, _ = await run_wave(app, server, first_chat=1_000_000)
        idle = await live_latency_alone(app, server, probes=30, probe_user=3_000_000)
        under, latencies = await run_wave(app, server, first_chat=2_000_000, probes=80, probe_user=4_000_000)
    finally:
        await app.stop()
    ms = 1000.0
    return [
        f"(a) wave dispatch: {WAVE} messages to {WAVE} chats; server limit {SERVER_GLOBAL:.0f}/s overall "
        f"and {SERVER_CHAT:.0f}/s per chat; Homeward {rate:.0f}/s, burst {burst:g} (margin {margin:.0%})",
        f"    queued → last delivered: {alone.seconds:.2f} s against the ideal {ideal:.1f} s "
        f"(ratio {alone.seconds / ideal:.3f}; target ≤ 1.10); first → last send {alone.first_to_last:.2f} s",
        f"    delivered {alone.sends}, 429s answered by the server {alone.throttled_server}, "
        f"seen by Homeward {alone.throttled_bot} (target 0)",
        f"(b) live latency, /start → reply on the server: without a wave "
        f"p50 {_quantile(idle, 0.5) * ms:.0f} ms, p99 {_quantile(idle, 0.99) * ms:.0f} ms ({len(idle)} people)",
        f"    during a {WAVE}-message wave: p50 {_quantile(latencies, 0.5) * ms:.0f} ms, "
        f"p99 {_quantile(latencies, 0.99) * ms:.0f} ms, "
        f"max {max(latencies, default=float('nan')) * ms:.0f} ms "
        f"({len(latencies)} of 80 answered); the wave itself took {under.seconds:.2f} s, "
        f"429s {under.throttled_server}",
    ]


# ---- (c) intake throughput with 1, 2 and 4 processes ------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def bot_processes(count: int, database_url: str, base: str, workdir: Path) -> Iterator[list[int]]:
    """`count` × `homeward bot --webhook`, each on its own port; always stopped."""
    ports = [_free_port() for _ in range(count)]
    processes: list[subprocess.Popen[bytes]] = []
    env_base = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    try:
        for index, port in enumerate(ports):
            env = {
                **env_base,
                "PYTHONPATH": str(ROOT),
                "HOMEWARD_DATABASE_URL": database_url,
                "HOMEWARD_TELEGRAM_TOKEN": TOKEN,
                "HOMEWARD_TELEGRAM_API_BASE": base,
                "HOMEWARD_WEBHOOK_URL": f"http://127.0.0.1:{port}",
                "HOMEWARD_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "HOMEWARD_SECRET_KEY": "bench-secret-key",
                "HOMEWARD_DATA_DIR": str(workdir / "data"),
                "HOMEWARD_CONSOLE_PORT": str(port),
                "HOMEWARD_WORKER_ID": f"bench-{index}",
                "HOMEWARD_RATE_GLOBAL_PER_SECOND": "1000000",
                "HOMEWARD_RATE_CHAT_PER_SECOND": "10000",
                "HOMEWARD_RATE_CHAT_BURST": "10000",
                "HOMEWARD_FLOOD_MESSAGES": "10000",
                "HOMEWARD_LOG_LEVEL": "WARNING",
            }
            log = (workdir / f"bot-{count}-{index}.log").open("ab")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot", "bot", "--webhook"],
                    env=env,
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()
        yield ports
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def echo_bot(base: str, port: int) -> None:
    """A bare aiogram echo bot behind aiogram's webhook handler (entry point of its own process)."""
    from aiogram import Bot, Dispatcher, F
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message as AiogramMessage
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    dispatcher = Dispatcher()

    @dispatcher.message(F.text)
    async def echo(message: AiogramMessage) -> None:
        await message.answer(message.text or "")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=WEBHOOK_SECRET).register(app, path="/telegram/webhook")
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


async def _ready(session: aiohttp.ClientSession, ports: list[int], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    for port in ports:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"port {port} did not become healthy")
            await asyncio.sleep(0.2)


async def post_all(session: aiohttp.ClientSession, ports: list[int], updates: list[dict[str, Any]]) -> int:
    """Post `updates` round-robin over the ports through at most 40 connections; returns non-200 answers."""
    queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
    for index, update in enumerate(updates):
        queue.put_nowait((ports[index % len(ports)], update))
    failures = 0

    async def connection() -> None:
        nonlocal failures
        while not queue.empty():
            port, update = queue.get_nowait()
            for _attempt in range(5):  # like Telegram: a failed delivery is tried again
                headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
                async with session.post(
                    f"http://127.0.0.1:{port}/telegram/webhook", json=update, headers=headers
                ) as response:
                    await response.read()
                    if response.status == 200:
                        break
                    failures += 1

    await asyncio.gather(*(connection() for _ in range(WEBHOOK_CONNECTIONS)))
    return failures


@dataclass
class Intake:
    name: str
    updates: int
    seconds: float
    replies: int
    lost: int
    duplicates: int
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds > 0 else 0.0


async def timed(
    server: Server,
    session: aiohttp.ClientSession,
    ports: list[int],
    updates: list[dict[str, Any]],
    per_chat: int,
    name: str,
) -> Intake:
    await server.limits(None, None)
    started = time.monotonic()
    failures = await post_all(session, ports, updates)
    stats = await server.wait(len(updates), seconds=300)
    await asyncio.sleep(0.5)  # a duplicate sent just after the last expected reply still counts
    stats = await server.wait(len(updates), seconds=0)
    chats = {str(u["message"]["chat"]["id"]) for u in updates}
    got = Counter({chat: n for chat, n in stats["per_chat"].items() if chat in chats})
    expected = Counter({chat: per_chat for chat in chats})
    result = Intake(
        name,
        len(updates),
        (stats["last_send"] or started) - started,
        stats["sends"],
        lost=sum((expected - got).values()),
        duplicates=sum((got - expected).values()),
    )
    if failures:
        result.notes.append(f"{failures} webhook posts answered non-200 and were retried")
    return result


async def onboard(
    server: Server, session: aiohttp.ClientSession, ports: list[int], batch: Updates, crowd: list[Person]
) -> None:
    """Untimed: /start, language, consent for everyone (1 + 2 + 2 replies each)."""
    for step, replies in (
        (lambda p: p.says("/start"), 1),
        (lambda p: p.presses("lang:sq"), 2),
        (lambda p: p.presses("consent:yes"), 2),
    ):
        batch.updates.clear()
        for person in crowd:
            step(person)
        await server.limits(None, None)
        await post_all(session, ports, batch.updates)
        stats = await server.wait(len(crowd) * replies, seconds=300)
        if stats["sends"] < len(crowd) * replies:
            raise RuntimeError(f"onboarding: {stats['sends']} of {len(crowd) * replies} replies")


def questions(batch: Updates, crowd: list[Person], messages: int) -> list[dict[str, Any]]:
    batch.updates.clear()
    for round_ in range(messages):
        for index, person in enumerate(crowd):
            person.says(QUESTIONS[(index + round_) % len(QUESTIONS)])
    return list(batch.updates)


async def intake(
    database_url: str, server: Server, people: int, messages: int, counts: list[int], workdir: Path
) -> list[str]:
    results: list[Intake] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=WEBHOOK_CONNECTIONS)) as session:
        context = multiprocessing.get_context("spawn")
        port = _free_port()
        echo = context.Process(target=echo_bot, args=(server.base, port), name="aiogram-echo", daemon=True)
        echo.start()
        try:
            await _ready(session, [port])
            batch = Updates(first_id=1)
            crowd = batch.people(8_000_000, people)
            await timed(server, session, [port], questions(batch, crowd, 1), 1, "warm-up")
            results.append(
                await timed(
                    server,
                    session,
                    [port],
                    questions(batch, crowd, messages),
                    messages,
                    "aiogram echo bot (webhook, 1 process)",
                )
            )
        finally:
            echo.terminate()
            echo.join(10)
        for run, count in enumerate(counts):
            with bot_processes(count, database_url, server.base, workdir) as ports:
                await _ready(session, ports)
                batch = Updates(first_id=(run + 1) * 10_000_000)
                crowd = batch.people(9_000_000 + run * 100_000, people)
                await onboard(server, session, ports, batch, crowd)
                timed_updates = questions(batch, crowd, messages)
                results.append(
                    await timed(
                        server,
                        session,
                        ports,
                        timed_updates,
                        messages,
                        f"Homeward, {count} × homeward bot --webhook",
                    )
                )
    base = results[0]
    lines = [
        f"(c) intake: {people} people × {messages} questions = {people * messages} updates per run, "
        f"posted over {WEBHOOK_CONNECTIONS} connections; every update must get exactly one reply"
    ]
    lines.append(f"    {'bot':44} {'updates/s':>10} {'ratio':>7} {'seconds':>8} {'lost':>5} {'dup':>4}")
    for r in results:
        notes = "  " + "; ".join(r.notes) if r.notes else ""
        lines.append(
            f"    {r.name:44} {r.rate:10.1f} {r.rate / base.rate if base.rate else 0:7.2f} "
            f"{r.seconds:8.2f} {r.lost:5d} {r.duplicates:4d}{notes}"
        )
    return lines


# ---- the run -----------------------------------------------------------------------------------


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await engine.dispose()


async def run(args: argparse.Namespace, workdir: Path) -> list[str]:
    admin = make_url(args.postgres)
    own = admin.set(database=f"{admin.database}_delivery_bench_{os.getpid()}")
    own_url = own.render_as_string(hide_password=False)
    await _admin(args.postgres, f'CREATE DATABASE "{own.database}"')
    server = Server()
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"PostgreSQL at {admin.host}:{admin.port}; fake Bot API in its own process"
    ]
    try:
        await upgrade_async(own_url)
        await server.start()
        if not args.skip_wave:
            lines += await waves(own_url, server, args.margin, workdir)
        if not args.skip_intake:
            counts = [int(c) for c in args.processes.split(",")]
            lines += await intake(own_url, server, args.people, args.messages, counts, workdir)
    finally:
        server.stop()
        await _admin(args.postgres, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)')
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--postgres",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="a database on the server; the bench creates and drops its own next to it",
    )
    parser.add_argument("--margin", type=float, default=0.05, help="Homeward's rate below the server's limit")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--skip-wave", action="store_true")
    parser.add_argument("--skip-intake", action="store_true")
    args = parser.parse_args(argv)
    # Stopped from outside: still stop the processes and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="homeward-bench-") as folder:
        lines = asyncio.run(run(args, Path(folder)))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
