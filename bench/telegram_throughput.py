"""Replies per second through Telegram's Bot API: a bare aiogram echo bot, a bare python-telegram-bot
echo bot, and Homeward's full path, in one run against the same fake Bot API server.

What is measured. The fake Bot API server (the one the end-to-end tests use) runs in its own
process, so its CPU does not count against the bot. For each bot, N people (distinct private
chats) each send M texts, all queued on the server at once. The clock runs on the server, from
the moment getUpdates first hands out one of these updates to the moment the last reply
(sendMessage) arrives; replies per second = replies received / that time. Each bot first gets
one untimed warm-up text per person, so connection set-up and first-call costs are outside the
window. Homeward's people are also onboarded first (/start, language, consent), so the timed
texts are ordinary free-text turns: questions in the person's own words that the router hands to
the knowledge base, each answered in exactly one message. The echo bots get the same texts.

The three bots:
  * aiogram: Dispatcher + start_polling, a handler that answers each text with its own text.
  * python-telegram-bot: Application with base_url pointing at the fake server, a MessageHandler
    that replies with the text, PTB's defaults otherwise: one update at a time. aiogram runs every
    update in its own task, but PTB with concurrent_updates is slower here, not faster (its HTTP
    client's connection pool does work per request that grows with the number of requests in
    flight); `--ptb-concurrency N` measures that setting.
  * Homeward, through `Homeward(settings).start()`: each raw update stored in the inbox before
    its offset is confirmed, each turn committed whole (inbound line, conversation state, reply
    line and outbox row; the turns waiting together share one commit), and delivery recording
    Telegram's message id on the outbox row and the transcript line. On SQLite (a fresh
    temporary file, migrated) and, with `--postgres URL`, on PostgreSQL. The bench drops and
    recreates the `public` schema of that database: never point it at a database whose data you
    want to keep.

Homeward normally paces replies to Telegram's limits (about 1 message a second per chat with a
short burst, 25 a second overall). The echo bots do not pace at all, so for this comparison
Homeward's pacing is raised far above what the run can reach (printed with the results), and so
is its flood threshold (a person sending more than 20 messages in 10 seconds gets one "slow
down" note, which would change the replies). With real Telegram the limits, not the code,
decide throughput. Homeward also runs with the garbage-collector settings every `homeward`
process applies once started (`bot.server.settle_collector`); the echo bots keep Python's.

Nothing may be lost. For the echo bots every update must get exactly one reply with its text.
For Homeward every timed update must be stored once in the transcript, its inbox row done,
exactly one reply per text must reach the server, and every outbox row and reply line must be
recorded as sent with a message id. Missing ones count as lost, extra ones as duplicates; the
exit status is 1 if any are found or an exchange of updates and replies takes longer than
--timeout seconds.

How to read the output. `replies/s` is the figure to compare; `ratio` is each against the bare
aiogram echo bot (the target is Homeward on SQLite >= 0.5x). `bot CPU` is the bench process's
CPU time over the window (100% = one core busy; the bot's Python runs on one core; SQLite's
driver thread adds to it), `server CPU` the fake server's: if the server is near 100% it, not the
bot, is the limit. For Homeward, `recorded` is how long after the last reply the last send result
was committed. On a busy machine figures vary by a third or more from run to run, so the load
average is printed with them: compare several runs, and the ratios rather than the rates.

Run: python -m bench.telegram_throughput [--people 200] [--messages 5] [--postgres URL]
     [--ptb-concurrency 1] [--timeout 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message as AiogramMessage
from sqlalchemy import func, select, text
from telegram import Update as PtbUpdate
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bench.api_process import ApiProcess
from bot.app import Homeward
from bot.config import Settings
from bot.server import settle_collector
from db.migrate import upgrade_async
from db.models import InboxUpdate, Message, OutboxItem
from db.session import create_engine
from tests.fakebot import TOKEN, FakeBotApi, Person

# Homeward's pacing for this comparison: far above anything one process reaches on loopback.
RATE_CHAT_PER_SECOND, RATE_CHAT_BURST, RATE_GLOBAL_PER_SECOND = 10_000.0, 10_000, 1_000_000.0
FLOOD_MESSAGES = 10_000
LATE_DUPLICATES = 0.2  # seconds the server keeps counting after the last expected reply, untimed
FIRST_USER_ID = 700_000
# Questions in people's own words that the knowledge base answers with confidence, in one message.
QUESTIONS = (
    "Kam humbur letërnjoftimin, si të marr një të ri?",
    "Ku mund të shkoj te mjeku?",
    "Si ta regjistroj djalin në shkollë pas kthimit?",
    "A kam të drejtë për pakon e riintegrimit nga shteti?",
    "Ku mund të marr certifikatë martese?",
)


@dataclass(frozen=True)
class Plan:
    people: int  # distinct private chats
    messages: int  # timed texts per person
    patience: float  # seconds one exchange (a batch of updates and their replies) may take

    @property
    def replies(self) -> int:
        return self.people * self.messages


# ---- the fake server, in its own process -------------------------------------------------------


class WindowedBotApi(FakeBotApi):
    """The fake Bot API, also timing a window: from handing out its first update to its last reply."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.first_update_id = 0
        self.expected = 0
        self.handed_out_at: float | None = None
        self.handed_out_cpu = 0.0
        self.last_reply_at: float | None = None
        self.last_reply_cpu = 0.0
        self.replies: list[tuple[str, str, int]] = []  # (chat id, text, message id)
        self.other_calls: Counter[str] = Counter()
        self._complete = asyncio.Event()

    def open_window(self, updates: list[dict[str, Any]], expected: int) -> list[int]:
        """Forget what came before, queue `updates`, expect `expected` replies; returns the update ids."""
        self._updates.clear()
        self.calls.clear()
        self.handed_out_at = self.last_reply_at = None
        self.replies = []
        self.other_calls = Counter()
        self.expected = expected
        self._complete.clear()
        pushed = [self.push(u) for u in updates]
        self.first_update_id = pushed[0]["update_id"] if pushed else 0
        return [u["update_id"] for u in pushed]

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        result = await super()._get_updates(params)
        if self.handed_out_at is None and any(u["update_id"] >= self.first_update_id for u in result):
            self.handed_out_at, self.handed_out_cpu = time.monotonic(), time.process_time()
        return result

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        result = super()._result(method, params)
        if method == "sendMessage":
            reply = (str(params["chat_id"]), str(params.get("text", "")), int(result["message_id"]))
            self.replies.append(reply)
            self.last_reply_at, self.last_reply_cpu = time.monotonic(), time.process_time()
            if len(self.replies) >= self.expected:
                self._complete.set()
        else:
            self.other_calls[method] += 1
        return result

    async def window_result(self, patience: float) -> dict[str, Any]:
        """As soon as every expected reply is in (or after `patience` seconds)."""
        try:
            await asyncio.wait_for(self._complete.wait(), patience)
        except TimeoutError:
            pass
        return self._summary()

    async def settled_result(self) -> dict[str, Any]:
        """A moment later, so that a duplicate sent just after the last expected reply is counted too."""
        await asyncio.sleep(LATE_DUPLICATES)
        return self._summary()

    def _summary(self) -> dict[str, Any]:
        return {
            "handed_out_at": self.handed_out_at,
            "last_reply_at": self.last_reply_at,
            "server_cpu": self.last_reply_cpu - self.handed_out_cpu,
            "replies": self.replies,
            "other_calls": dict(self.other_calls),
            "pending_updates": self.pending_updates(),
        }


class Server(ApiProcess):
    """The bench's handle on the windowed server's process."""

    def __init__(self) -> None:
        super().__init__(WindowedBotApi)

    async def window(self, updates: list[dict[str, Any]], expected: int) -> list[int]:
        return cast(list[int], await self.ask(30.0, "open_window", updates, expected))

    async def result(self, patience: float) -> dict[str, Any]:
        return cast(dict[str, Any], await self.ask(patience + 30.0, "window_result", patience))

    async def settled(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.ask(30.0, "settled_result"))

    async def exchange(self, updates: list[dict[str, Any]], expected: int, patience: float) -> dict[str, Any]:
        """Queue `updates`, wait for `expected` replies (or `patience` seconds), and a moment more."""
        await self.window(updates, expected)
        await self.result(patience)
        return await self.settled()


# ---- updates, as people send them --------------------------------------------------------------


class UpdateBatch:
    """Collects the updates `Person` builds, to hand them to the server process in one go."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        self.updates.append(update)
        return update


def people(count: int, batch: UpdateBatch) -> list[Person]:
    # Person only ever calls push() on its api, which is all UpdateBatch offers.
    api = cast(FakeBotApi, batch)
    return [Person(api, FIRST_USER_ID + i, f"P{i}", language_code="sq") for i in range(count)]


def texts(count: int, messages: int, first: int = 0) -> list[dict[str, Any]]:
    """`messages` questions from each of `count` people, interleaved the way they would arrive."""
    batch = UpdateBatch()
    crowd = people(count, batch)
    for round_ in range(first, first + messages):
        for index, person in enumerate(crowd):
            person.says(QUESTIONS[(index + round_) % len(QUESTIONS)])
    return batch.updates


def presses(count: int, data: str) -> list[dict[str, Any]]:
    batch = UpdateBatch()
    for person in people(count, batch):
        person.presses(data)
    return batch.updates


def commands(count: int, command: str) -> list[dict[str, Any]]:
    batch = UpdateBatch()
    for person in people(count, batch):
        person.says(command)
    return batch.updates


# ---- one measured run --------------------------------------------------------------------------


@dataclass
class Measurement:
    name: str
    replies: int = 0
    seconds: float = 0.0
    lost: int = 0
    duplicates: int = 0
    bot_cpu: float = 0.0
    server_cpu: float = 0.0
    recorded_after: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.replies / self.seconds if self.seconds > 0 else 0.0


async def timed_window(
    server: Server,
    name: str,
    updates: list[dict[str, Any]],
    plan: Plan,
) -> tuple[Measurement, dict[str, Any], list[int]]:
    cpu_before, wall_before = time.process_time(), time.monotonic()
    ids = await server.window(updates, len(updates))
    result = await server.result(plan.patience)
    cpu_spent = time.process_time() - cpu_before
    busy = time.monotonic() - wall_before
    measured = Measurement(name, replies=len(result["replies"]))
    start, end = result["handed_out_at"], result["last_reply_at"]
    if start is None or end is None or len(result["replies"]) < len(updates):
        measured.notes.append(f"{len(result['replies'])} of {len(updates)} replies within {plan.patience:.0f} s")
    if start is not None and end is not None and end > start:
        measured.seconds = end - start
        measured.server_cpu = result["server_cpu"] / measured.seconds
        measured.bot_cpu = cpu_spent / busy if busy > 0 else 0.0
    return measured, result, ids


def check_echo(measured: Measurement, updates: list[dict[str, Any]], replies: list[tuple[str, str, int]]) -> None:
    """Every update answered exactly once, with its own text, in its own chat."""
    expected = Counter((str(u["message"]["chat"]["id"]), u["message"]["text"]) for u in updates)
    got = Counter((chat, reply) for chat, reply, _ in replies)
    measured.lost = sum((expected - got).values())
    measured.duplicates = sum((got - expected).values())


async def warm_up(server: Server, plan: Plan) -> None:
    warm = texts(plan.people, 1, first=-1)
    result = await server.exchange(warm, len(warm), plan.patience)
    if len(result["replies"]) < len(warm):
        raise RuntimeError(f"warm-up: {len(result['replies'])} of {len(warm)} replies within {plan.patience:.0f} s")


async def run_aiogram(server: Server, plan: Plan) -> Measurement:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base)))
    dispatcher = Dispatcher()

    @dispatcher.message(F.text)
    async def echo(message: AiogramMessage) -> None:
        await message.answer(message.text or "")

    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        await warm_up(server, plan)
        updates = texts(plan.people, plan.messages)
        measured, _, _ = await timed_window(server, "aiogram echo bot", updates, plan)
        check_echo(measured, updates, (await server.settled())["replies"])
        return measured
    finally:
        await dispatcher.stop_polling()
        await asyncio.wait_for(polling, 10)


async def run_ptb(server: Server, plan: Plan, concurrency: int = 1) -> Measurement:
    async def echo(update: PtbUpdate, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None and update.message.text is not None:
            await update.message.reply_text(update.message.text)

    builder = Application.builder().token(TOKEN).base_url(f"{server.base}/bot").base_file_url(f"{server.base}/file/bot")
    if concurrency > 1:
        builder = builder.concurrent_updates(concurrency)
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(timeout=1)
        await application.start()
        try:
            await warm_up(server, plan)
            updates = texts(plan.people, plan.messages)
            name = "python-telegram-bot echo bot" + (f" ({concurrency} at once)" if concurrency > 1 else "")
            measured, _, _ = await timed_window(server, name, updates, plan)
            check_echo(measured, updates, (await server.settled())["replies"])
            return measured
        finally:
            await application.updater.stop()
            await application.stop()


async def onboard(server: Server, plan: Plan) -> None:
    """/start, language, consent for everyone, untimed; then one question each, which gets one reply."""
    steps = [
        ("/start", commands(plan.people, "/start"), 1),
        ("lang:sq", presses(plan.people, "lang:sq"), 2),
        ("consent:yes", presses(plan.people, "consent:yes"), 2),
    ]
    for label, updates, per_person in steps:
        expected = per_person * plan.people
        result = await server.exchange(updates, expected, plan.patience)
        if len(result["replies"]) < expected:
            raise RuntimeError(
                f"onboarding ({label}): {len(result['replies'])} of {expected} replies within {plan.patience:.0f} s"
            )
    warm = texts(plan.people, 1, first=-1)
    result = await server.exchange(warm, len(warm), plan.patience)
    if len(result["replies"]) != len(warm):
        raise RuntimeError(
            f"the warm-up questions got {len(result['replies'])} replies from {len(warm)} "
            "people; the bench needs questions that get exactly one reply each"
        )


async def wait_recorded(app: Homeward, deadline: float) -> bool:
    """Until every outbox row has its send result committed (bounded by `deadline`)."""
    unfinished = select(func.count()).select_from(OutboxItem).where(OutboxItem.status.in_(("pending", "sending")))
    while time.monotonic() < deadline:
        await app.turns.wait_idle()
        async with app.db.sessions() as session:
            if (await session.execute(unfinished)).scalar_one() == 0:
                return True
        await asyncio.sleep(0.02)
    return False


async def check_homeward(
    app: Homeward, measured: Measurement, ids: list[int], plan: Plan, replies: list[tuple[str, str, int]]
) -> None:
    """Every timed update stored once and done; one reply per text reached the server and is recorded."""
    sent_ids = [str(message_id) for _, _, message_id in replies]
    async with app.db.sessions() as session:
        inbound = Counter(
            (
                await session.execute(
                    select(Message.update_id).where(Message.direction == "in", Message.update_id.in_(ids))
                )
            )
            .scalars()
            .all()
        )
        done = (
            await session.execute(
                select(func.count())
                .select_from(InboxUpdate)
                .where(InboxUpdate.update_id.in_(ids), InboxUpdate.status == "done")
            )
        ).scalar_one()
        unsent_lines = (
            await session.execute(
                select(func.count())
                .select_from(Message)
                .where(
                    Message.direction == "out",
                    (Message.status != "sent") | Message.channel_message_id.is_(None),
                )
            )
        ).scalar_one()
        unsent_rows = (
            await session.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.status != "sent"))
        ).scalar_one()
        recorded = set(
            (
                await session.execute(
                    select(Message.channel_message_id).where(
                        Message.direction == "out", Message.channel_message_id.in_(sent_ids)
                    )
                )
            )
            .scalars()
            .all()
        )
    per_chat = Counter(chat for chat, _, _ in replies)
    chats = {str(FIRST_USER_ID + i) for i in range(plan.people)}
    short = sum(max(0, plan.messages - per_chat[c]) for c in chats)
    extra = sum(max(0, n - plan.messages) if c in chats else n for c, n in per_chat.items())
    missing_in = len(set(ids) - set(inbound))
    not_done = len(ids) - done
    unrecorded = sum(1 for m in sent_ids if m not in recorded)
    # A message lost on the way in also shows up as a missing reply: count it once.
    measured.lost = max(missing_in, not_done, short) + max(unsent_lines, unsent_rows, unrecorded)
    measured.duplicates = sum(n - 1 for n in inbound.values()) + extra
    findings = {
        "timed updates not in the transcript": missing_in,
        "inbox rows not done": not_done,
        "replies missing at the server": short,
        "transcript replies not recorded as sent": unsent_lines,
        "outbox rows not sent": unsent_rows,
        "replies without a recorded message id": unrecorded,
    }
    measured.notes.extend(f"{label}: {value}" for label, value in findings.items() if value)


async def run_homeward(server: Server, plan: Plan, database_url: str, label: str, data_dir: Path) -> Measurement:
    settings = Settings(
        database_url=database_url,
        telegram_token=TOKEN,
        telegram_api_base=server.base,
        secret_key="bench-secret-key",
        data_dir=data_dir,
        poll_timeout_seconds=1,
        rate_chat_per_second=RATE_CHAT_PER_SECOND,
        rate_chat_burst=RATE_CHAT_BURST,
        rate_global_per_second=RATE_GLOBAL_PER_SECOND,
        flood_messages=FLOOD_MESSAGES,
        kb_embeddings=False,  # lexical ranking: bench.kb_eval prints what the embeddings cost per question
        _env_file=None,  # type: ignore[call-arg]
    )
    app = Homeward(settings)
    await app.start()
    settle_collector()  # as `homeward serve` does once started
    try:
        await onboard(server, plan)
        await wait_recorded(app, time.monotonic() + plan.patience)
        updates = texts(plan.people, plan.messages)
        measured, result, ids = await timed_window(server, f"Homeward on {label}", updates, plan)
        if result["last_reply_at"] is not None:
            if await wait_recorded(app, time.monotonic() + plan.patience):
                measured.recorded_after = max(0.0, time.monotonic() - result["last_reply_at"])
            else:
                measured.notes.append("send results still not recorded at the deadline")
        await check_homeward(app, measured, ids, plan, (await server.settled())["replies"])
        return measured
    finally:
        await app.stop()


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade_async(url)


# ---- the report --------------------------------------------------------------------------------


def _ratio(ours: Measurement, base: Measurement) -> float:
    return ours.rate / base.rate if base.rate else 0.0


def report(results: list[Measurement], plan: Plan, load: float) -> str:
    pacing = (
        f"rate_chat_per_second={RATE_CHAT_PER_SECOND:g}, rate_chat_burst={RATE_CHAT_BURST}, "
        f"rate_global_per_second={RATE_GLOBAL_PER_SECOND:g}"
    )
    lines = [
        f"{plan.people} chats x {plan.messages} messages = {plan.replies} timed replies per bot; "
        "fake Bot API server in its own process; clock from the first getUpdates to the last reply",
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"aiogram {version('aiogram')}, python-telegram-bot {version('python-telegram-bot')}, "
        f"SQLAlchemy {version('sqlalchemy')}; load average before the run {load:.2f} (other work on the "
        "machine slows every bot)",
        f"Homeward's pacing raised for this comparison (the echo bots do not pace): {pacing}, "
        f"flood_messages={FLOOD_MESSAGES}",
        "  (Homeward's defaults: 1 message/s per chat with a burst of 3, 25/s overall, flood note after 20 "
        "messages in 10 s)",
        "Homeward runs with the garbage-collector settings its processes use (bot/server.py settle_collector); "
        "the echo bots with Python's defaults",
        "",
        f"{'':36} {'replies/s':>10} {'seconds':>8} {'bot CPU':>8} {'server CPU':>10} {'lost':>5} "
        f"{'dup':>4} {'recorded':>9}",
    ]
    for m in results:
        recorded = f"+{m.recorded_after * 1000:.0f} ms" if m.recorded_after is not None else ""
        lines.append(
            f"{m.name:36} {m.rate:10.1f} {m.seconds:8.2f} {m.bot_cpu:8.0%} {m.server_cpu:10.0%} "
            f"{m.lost:5d} {m.duplicates:4d} {recorded:>9}"
        )
        lines.extend(f"    ! {note}" for note in m.notes)
    aiogram = results[0]
    lines.append("")
    lines.extend(f"ratio {m.name} / aiogram echo bot: {_ratio(m, aiogram):.2f}x" for m in results[1:])
    sqlite = next((m for m in results if m.name == "Homeward on SQLite"), None)
    if sqlite is not None:
        met = "met" if _ratio(sqlite, aiogram) >= 0.5 else "NOT met"
        lines.append(f"target Homeward on SQLite >= 0.5x the aiogram echo bot: {met}")
    lines.append(f"lost: {sum(m.lost for m in results)}")
    lines.append(f"duplicates: {sum(m.duplicates for m in results)}")
    return "\n".join(lines)


async def run(plan: Plan, postgres: str | None, ptb_concurrency: int) -> list[Measurement]:
    server = Server()
    await server.start()
    results: list[Measurement] = []
    try:
        results.append(await run_aiogram(server, plan))
        results.append(await run_ptb(server, plan, ptb_concurrency))
        with tempfile.TemporaryDirectory(prefix="homeward-bench-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'homeward.db'}"
            await upgrade_async(url)
            data = Path(folder) / "data"
            results.append(await run_homeward(server, plan, url, "SQLite", data))
            if postgres:
                await reset_postgres(postgres)
                results.append(await run_homeward(server, plan, postgres, "PostgreSQL", data))
    finally:
        server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=200, help="distinct private chats (default 200)")
    parser.add_argument("--messages", type=int, default=5, help="timed texts per person (default 5)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run Homeward on this PostgreSQL database (its public schema is dropped)",
    )
    parser.add_argument(
        "--ptb-concurrency",
        type=int,
        default=1,
        help="python-telegram-bot's concurrent_updates (default 1, as PTB itself)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds one exchange of updates and replies may take (default 120)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    args = parser.parse_args(argv)
    if args.people < 1 or args.messages < 1 or args.ptb_concurrency < 1 or args.timeout <= 0:
        parser.error("--people, --messages, --ptb-concurrency and --timeout must be positive")
    plan = Plan(args.people, args.messages, args.timeout)

    async def bounded() -> list[Measurement]:
        # Every exchange is bounded by --timeout; the whole run (about ten exchanges) by a multiple of it.
        return await asyncio.wait_for(run(plan, args.postgres, args.ptb_concurrency), args.timeout * 15)

    load = os.getloadavg()[0]
    results = asyncio.run(bounded())
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": m.name,
                        "replies_per_second": round(m.rate, 1),
                        "seconds": round(m.seconds, 3),
                        "lost": m.lost,
                        "duplicates": m.duplicates,
                        "notes": m.notes,
                    }
                    for m in results
                ]
            )
        )
    else:
        print(report(results, plan, load))
    return 1 if any(m.lost or m.duplicates or m.notes for m in results) else 0


if __name__ == "__main__":
    sys.exit(main())
