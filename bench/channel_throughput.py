"""Replies per second through each channel's webhook: a bare echo and Homeward's full path, on the same fake.

What is measured, the same way on every channel (WhatsApp, Viber, Telegram in webhook mode). N people
each send M texts to the channel's webhook (signed as the platform signs), all people at once, each
person's texts one after the other as their app sends them. The clock runs from the first webhook
request to the moment the last reply reaches the fake platform API; replies per second = replies /
that time. The fakes answer each message as the platform does and report it back through the same
webhook (WhatsApp `sent` and `delivered`, Viber `delivered`; Telegram has no receipts), so the
receipts' load is part of both runs.

  * echo: a Starlette app on the same path that checks the signature (Telegram: the secret token),
    reads the body and answers each text with its own text through the same fake API (one aiohttp
    session), answering the platform 200 at once. No storage and no order per person: the floor any
    bot stands on.
  * Homeward, `Homeward(settings).start()` with its web app: each message stored in the inbox
    before the 200, each turn committed whole (inbound line, state, reply line, outbox row),
    delivery rendering and sending the reply in order per person and recording the message id,
    then the receipts moving each line on. People are onboarded first (untimed); the timed texts are
    the plain-word menu command ("menu", "meny", "мени"), answered by one message each, so replies
    count exactly. Homeward's pacing is raised above what the run can reach and so is its flood
    threshold (the echo does not pace).

Everything runs in this one process (the fakes too, and the webhook calls go through the ASGI apps
in memory), so the fake's CPU weighs on both runs alike: compare the ratio. Beside each rate the
process's CPU time per reply is printed, and its ratio to the echo's ("CPU 0.45x": Homeward costs
the echo's CPU divided by 0.45). On a machine whose cores are busy with other work the process
gets only part of a core and the rates follow the CPU ratio; on an idle one they follow how long
each person waits for their previous reply too.

Nothing may be lost, duplicated or out of order: the echo must send exactly one reply per text
(its order is printed, not required); Homeward must store every text once (inbox and transcript),
send exactly one reply per text, each person's replies must reach the fake in the order they were
queued (the message ids recorded on the transcript, read back in the fake's order), and every outbox
row must be recorded sent. The exit status is 1 otherwise.

With `--rounds N` the echo and Homeward run N times each, in turn, and the ratios' medians are
printed beside each round's figures: on a shared machine one window of a second says little.

With `--tasks` each run also prints where its CPU went: every step of every asyncio task in the
timed window is timed with the thread's CPU clock and added to its task's coroutine (the turns, the
sends, delivery's claims and records, the bench's webhook requests, the fake's answers), per reply.

Run: python -m bench.channel_throughput [--channels whatsapp,viber,telegram] [--people 100]
[--messages 5] [--rounds 1] [--postgres URL] [--profile FILE] [--tasks]
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.events
import cProfile
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import ClientSession
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import Homeward
from bot.channels import telegram, viber, whatsapp
from bot.config import Settings
from bot.server import VIBER_PATH, WEBHOOK_PATH, WHATSAPP_PATH, settle_collector, web_app
from db.migrate import upgrade_async
from db.models import InboxUpdate, Message, OutboxItem
from db.session import create_engine
from tests import fakebot, fakegraph, fakeviber
from tests.chats import Chat, ViberChat, WhatsAppChat
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi

WORDS = ("menu", "meny", "мени")
TASKS_SHOWN = 12  # with --tasks, the owners of the most CPU printed beside each run
TELEGRAM_SECRET = "bench-webhook-secret"

Poster = Callable[[str], Awaitable[None]]  # a person's one text, through the webhook


@dataclass
class Measured:
    name: str
    replies: int
    seconds: float
    lost: int = 0
    duplicated: int = 0
    disordered: int = 0  # people whose replies arrived out of the order they were queued
    cpu: float = 0.0  # seconds of this process's CPU in the window (everything runs in it)
    tasks: dict[str, float] = field(default_factory=dict)  # with --tasks: CPU seconds by task or callback

    @property
    def rate(self) -> float:
        return self.replies / self.seconds if self.seconds else 0.0

    @property
    def cpu_each(self) -> float:
        return self.cpu / self.replies if self.replies else 0.0


class ChannelBench:
    """One channel: its fake API, its webhook, how a person writes and what reached the fake."""

    name = ""
    path = ""
    api: Any

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def post(self, http: httpx.AsyncClient) -> None:
        """Wire the fake's webhook calls (texts and receipts) to `http`."""
        raise NotImplementedError

    def writer(self, http: httpx.AsyncClient, n: int) -> tuple[str, Poster]:
        """Person n: their chat id at the fake, and how they send a text through the webhook."""
        raise NotImplementedError

    def chat(self, n: int) -> Chat:
        raise NotImplementedError

    def arrivals(self) -> list[tuple[str, str, str]]:
        """Every message that reached the fake, in order: (chat id, text, the platform's message id)."""
        raise NotImplementedError

    def count(self) -> int:
        """How many messages reached the fake (cheap: the clock waits on it)."""
        return len(self.api.sent)

    def echo(self) -> tuple[list[Route], Callable[[str, str], Awaitable[None]]]:
        """The echo's route, and its reply call (chat id, text)."""
        raise NotImplementedError

    async def onboard(self, chat: Chat) -> None:
        """Start, Albanian, consent (as `tests.chats.onboard`, with a busy machine's patience)."""
        for press in (None, "lang:sq", "consent:yes"):
            if press is None:
                await chat.says("/start")
            else:
                await chat.presses(press)
            wanted = {None: "lang:sq", "lang:sq": "consent:yes", "consent:yes": "menu:privacy"}[press]
            await self.api.wait_for(lambda wanted=wanted: _offered(chat, wanted), timeout=300)


def _offered(chat: Chat, data: str) -> bool:
    try:
        return data in chat.buttons()
    except IndexError:
        return False


class WhatsAppBench(ChannelBench):
    name, path = whatsapp.CHANNEL, WHATSAPP_PATH

    async def start(self) -> None:
        self.api = await FakeGraphApi().start()
        self.api.receipts = True

    async def stop(self) -> None:
        await self.api.stop()

    def settings(self) -> dict[str, Any]:
        return {
            "whatsapp_api_base": self.api.base,
            "whatsapp_token": fakegraph.TOKEN,
            "whatsapp_phone_number_id": fakegraph.PHONE_NUMBER_ID,
            "whatsapp_app_secret": fakegraph.APP_SECRET,
            "whatsapp_verify_token": fakegraph.VERIFY_TOKEN,
            "whatsapp_rate_per_second": 100_000.0,
            "whatsapp_rate_chat_per_second": 10_000.0,
            "whatsapp_rate_chat_burst": 1_000,
        }

    def post(self, http: httpx.AsyncClient) -> None:
        async def post(body: bytes, headers: dict[str, str]) -> int:
            return (await http.post(self.path, content=body, headers=headers)).status_code

        self.api.post = post

    def writer(self, http: httpx.AsyncClient, n: int) -> tuple[str, Poster]:
        chat = self.chat(n)

        async def says(text: str) -> None:
            await chat.says(text)

        return chat.id, says

    def chat(self, n: int) -> Chat:
        return WhatsAppChat(self.api, n, f"P{n}")

    def arrivals(self) -> list[tuple[str, str, str]]:
        return [(s.to, fakegraph.text_of(s.message), s.wamid) for s in self.api.sent]

    def echo(self) -> tuple[list[Route], Callable[[str, str], Awaitable[None]]]:
        url = f"{self.api.base}/{whatsapp.GRAPH_VERSION}/{fakegraph.PHONE_NUMBER_ID}/messages"
        session = ClientSession(headers={"Authorization": f"Bearer {fakegraph.TOKEN}"})
        echo = Echo(session)

        async def reply(to: str, body: str) -> None:
            message = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}
            async with session.post(url, json=message) as answer:
                await answer.read()

        async def receive(request: Request) -> Response:
            body = await request.body()
            if not whatsapp.signature_valid(fakegraph.APP_SECRET, body, request.headers.get("X-Hub-Signature-256")):
                return Response(status_code=401)
            for entry in json.loads(body).get("entry", []):
                for change in entry.get("changes", []):
                    for message in change["value"].get("messages", []):
                        if message.get("type") == "text":
                            echo.later(reply(message["from"], message["text"]["body"]))
            return JSONResponse({})

        self.echoes = echo
        return [Route(self.path, receive, methods=["POST"])], reply


class ViberBench(ChannelBench):
    name, path = viber.CHANNEL, VIBER_PATH

    async def start(self) -> None:
        self.api = await FakeViberApi().start()
        self.api.receipts = True

    async def stop(self) -> None:
        await self.api.stop()

    def settings(self) -> dict[str, Any]:
        return {
            "viber_api_base": self.api.base,
            "viber_token": fakeviber.TOKEN,
            "viber_rate_per_second": 100_000.0,
            "viber_rate_chat_per_second": 10_000.0,
            "viber_rate_chat_burst": 1_000,
        }

    def post(self, http: httpx.AsyncClient) -> None:
        async def call(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            answer = await http.post(self.path, content=body, headers=headers)
            return answer.status_code, answer.content

        self.api.post = call

    def writer(self, http: httpx.AsyncClient, n: int) -> tuple[str, Poster]:
        chat = self.chat(n)

        async def says(text: str) -> None:
            await chat.says(text)

        return chat.id, says

    def chat(self, n: int) -> Chat:
        return ViberChat(self.api, n, f"P{n}")

    def arrivals(self) -> list[tuple[str, str, str]]:
        return [(s.to, str(s.message.get("text") or ""), s.token) for s in self.api.sent]

    def echo(self) -> tuple[list[Route], Callable[[str, str], Awaitable[None]]]:
        url = f"{self.api.base}/pa/send_message"
        session = ClientSession(headers={"X-Viber-Auth-Token": fakeviber.TOKEN})
        echo = Echo(session)

        async def reply(to: str, body: str) -> None:
            message = {"receiver": to, "sender": {"name": "Echo"}, "type": "text", "text": body}
            async with session.post(url, json=message) as answer:
                await answer.read()

        async def receive(request: Request) -> Response:
            body = await request.body()
            if not viber.signature_valid(fakeviber.TOKEN, body, request.headers.get("X-Viber-Content-Signature")):
                return Response(status_code=401)
            callback = json.loads(body)
            message = callback.get("message") or {}
            if callback.get("event") == "message" and message.get("type") == "text":
                echo.later(reply(callback["sender"]["id"], message["text"]))
            return JSONResponse({})

        self.echoes = echo
        return [Route(self.path, receive, methods=["POST"])], reply


class TelegramChatByWebhook:
    """A Telegram person whose updates go straight to the webhook, as Telegram's servers send them."""

    def __init__(self, api: FakeBotApi, http: httpx.AsyncClient, number: int) -> None:
        self.api = api
        self.http = http
        self.person = fakebot.Person(api, 7_000_000 + number, f"P{number}")
        self.id = str(self.person.id)

    async def _post(self, update: dict[str, Any]) -> None:
        self.api._updates.remove(update)  # nobody polls: the update goes by webhook only
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        answer = await self.http.post(WEBHOOK_PATH, json=update, headers=headers)
        assert answer.status_code == 200, f"the webhook answered {answer.status_code}"

    async def says(self, text: str) -> object:
        await self._post(self.person.says(text))
        return None

    async def presses(self, data: str) -> object:
        await self._post(self.person.presses(data))
        return None

    def texts(self) -> list[str]:
        return self.api.texts(self.person.id)

    def buttons(self, index: int = -1) -> list[str]:
        return self.person.buttons(index)

    async def wait_sent(self, count: int) -> list[str]:
        return await self.api.wait_sent(count, self.person.id)

    async def wait_text(self, fragment: str, after: int = 0) -> str:
        await self.api.wait_for(lambda: any(fragment in t for t in self.texts()[after:]))
        return next(t for t in self.texts()[after:] if fragment in t)

    async def wait_button(self, data: str) -> list[str]:
        def offered() -> bool:
            try:
                return data in self.buttons()
            except IndexError:
                return False

        await self.api.wait_for(offered, timeout=120)
        return self.buttons()


class TelegramBench(ChannelBench):
    name, path = telegram.CHANNEL, WEBHOOK_PATH

    async def start(self) -> None:
        self.api = await FakeBotApi().start()
        self.http: httpx.AsyncClient | None = None

    async def stop(self) -> None:
        await self.api.stop()

    def settings(self) -> dict[str, Any]:
        return {
            "telegram_token": fakebot.TOKEN,
            "telegram_api_base": self.api.base,
            "webhook_secret": TELEGRAM_SECRET,
            "rate_global_per_second": 100_000.0,
            "rate_chat_per_second": 10_000.0,
            "rate_chat_burst": 1_000,
        }

    def post(self, http: httpx.AsyncClient) -> None:
        self.http = http

    def writer(self, http: httpx.AsyncClient, n: int) -> tuple[str, Poster]:
        chat = TelegramChatByWebhook(self.api, http, n)

        async def says(text: str) -> None:
            await chat.says(text)

        return chat.id, says

    def chat(self, n: int) -> Chat:
        assert self.http is not None
        return TelegramChatByWebhook(self.api, self.http, n)

    def arrivals(self) -> list[tuple[str, str, str]]:
        # The fake numbers the messages it accepts one after another, from 1.
        sent = [c for c in self.api.calls if c.method in ("sendMessage", "sendDocument")]
        return [(str(c.params["chat_id"]), str(c.params.get("text", "")), str(n)) for n, c in enumerate(sent, 1)]

    def count(self) -> int:
        return len(self.api.calls)  # Homeward answers no button press in the timed window

    def echo(self) -> tuple[list[Route], Callable[[str, str], Awaitable[None]]]:
        url = f"{self.api.base}/bot{fakebot.TOKEN}/sendMessage"
        session = ClientSession()
        echo = Echo(session)

        async def reply(to: str, body: str) -> None:
            async with session.post(url, json={"chat_id": int(to), "text": body}) as answer:
                await answer.read()

        async def receive(request: Request) -> Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
            if not telegram.secret_matches(TELEGRAM_SECRET, given):
                return Response(status_code=401)
            update = json.loads(await request.body())
            message = update.get("message") or {}
            if "text" in message:
                echo.later(reply(str(message["chat"]["id"]), message["text"]))
            return JSONResponse({})

        self.echoes = echo
        return [Route(self.path, receive, methods=["POST"])], reply


class Echo:
    """The echo's replies, each its own task (the echo answers the platform first)."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.tasks: set[asyncio.Task[None]] = set()

    def later(self, reply: Awaitable[None]) -> None:
        task = asyncio.ensure_future(reply)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.session.close()


BENCHES: dict[str, type[ChannelBench]] = {
    whatsapp.CHANNEL: WhatsAppBench,
    viber.CHANNEL: ViberBench,
    telegram.CHANNEL: TelegramBench,
}


def _owner(callback: Any) -> str:
    """Whose step a loop callback is: a task's (named by its coroutine), or the callback's own name."""
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coroutine = task.get_coro()
        return "task " + getattr(coroutine, "__qualname__", type(coroutine).__name__)
    return "callback " + getattr(callback, "__qualname__", type(callback).__name__)


@contextmanager
def task_cpu(spent: dict[str, float] | None) -> Iterator[None]:
    """While inside, the CPU of every step the event loop runs is added to `spent` by its owner."""
    if spent is None:
        yield
        return
    original = asyncio.events.Handle._run
    clock = time.thread_time

    def run(handle: asyncio.events.Handle) -> None:
        started = clock()
        try:
            original(handle)
        finally:
            owner = _owner(handle._callback)  # type: ignore[attr-defined]
            spent[owner] = spent.get(owner, 0.0) + clock() - started

    setattr(asyncio.events.Handle, "_run", run)  # noqa: B010 (a method of the loop's, replaced for the window)
    try:
        yield
    finally:
        setattr(asyncio.events.Handle, "_run", original)  # noqa: B010


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60)


async def timed(
    name: str,
    bench: ChannelBench,
    people: list[tuple[str, Poster]],
    messages: int,
    texts: Callable[[int], str],
    profile: cProfile.Profile | None = None,
    tasks: bool = False,
) -> tuple[Measured, list[tuple[str, str, str]]]:
    """Everyone writes at once, each person in turn; returns the measure and what arrived meanwhile."""
    settle_collector()  # what every `homeward` process does once started; the echo runs with it too
    before = len(bench.arrivals())
    counted = bench.count()
    expected = len(people) * messages
    spent: dict[str, float] | None = {} if tasks else None
    if profile is not None:
        profile.enable()
    started, cpu = time.perf_counter(), time.process_time()

    async def one(says: Poster) -> None:
        for n in range(messages):
            await says(texts(n))

    with task_cpu(spent):
        await asyncio.gather(*(one(says) for _, says in people))
        deadline = time.monotonic() + 600
        while bench.count() - counted < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profile is not None:
        profile.disable()
    await asyncio.sleep(0.5)  # anything extra would arrive now
    arrived = bench.arrivals()[before:]
    per_person = {chat: 0 for chat, _ in people}
    for chat, _, _ in arrived:
        per_person[chat] = per_person.get(chat, 0) + 1
    lost = sum(max(0, messages - n) for n in per_person.values())
    duplicated = sum(max(0, n - messages) for n in per_person.values())
    return Measured(name, len(arrived), seconds, lost, duplicated, cpu=cpu, tasks=spent or {}), arrived


async def run_echo(bench: ChannelBench, people_count: int, messages: int, tasks: bool = False) -> Measured:
    await bench.start()
    routes, _ = bench.echo()
    http = client(Starlette(routes=routes))
    bench.post(http)
    try:
        people = [bench.writer(http, n) for n in range(people_count)]
        await asyncio.gather(*(says("hi") for _, says in people))  # untimed warm-up: connections, first calls
        while len(bench.arrivals()) < people_count:
            await asyncio.sleep(0.01)
        measured, arrived = await timed("echo", bench, people, messages, lambda n: f"m{n}", tasks=tasks)
        # Informational: the echo keeps no order per person.
        seen: dict[str, list[int]] = {}
        for chat, body, _ in arrived:
            seen.setdefault(chat, []).append(int(body[1:]))
        measured.disordered = sum(1 for order in seen.values() if order != sorted(order))
        return measured
    finally:
        await bench.echoes.close()
        await http.aclose()
        await bench.stop()


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def run_homeward(
    bench: ChannelBench,
    people_count: int,
    messages: int,
    database_url: str,
    data: Path,
    profile: cProfile.Profile | None = None,
    tasks: bool = False,
) -> Measured:
    await bench.start()
    settings = Settings(
        database_url=database_url,
        secret_key="bench-secret-key",
        data_dir=data,
        flood_messages=10_000,
        kb_embeddings=False,  # lexical ranking: bench.kb_eval prints what the embeddings cost per question
        _env_file=None,  # type: ignore[call-arg]
        **bench.settings(),
    )
    app = Homeward(settings)
    http = client(web_app(app, webhook=bench.name == telegram.CHANNEL, console=False))
    bench.post(http)
    await app.start(polling=False)
    try:
        chats = [bench.chat(n) for n in range(people_count)]
        await asyncio.gather(*(bench.onboard(chat) for chat in chats))
        await app.turns.wait_idle()
        people = [bench.writer(http, n) for n in range(people_count)]
        measured, arrived = await timed(
            "Homeward", bench, people, messages, lambda n: WORDS[n % len(WORDS)], profile=profile, tasks=tasks
        )
        await app.turns.wait_idle()
        await app.delivery.drain()
        async with app.db.sessions() as session:
            for _ in range(600):
                unsent = (
                    await session.execute(
                        select(func.count()).select_from(OutboxItem).where(OutboxItem.status != "sent")
                    )
                ).scalar_one()
                if not unsent:
                    break
                await asyncio.sleep(0.1)
            stored = (
                await session.execute(
                    select(func.count()).select_from(Message).where(Message.direction == "in", Message.text.in_(WORDS))
                )
            ).scalar_one()
            pending = (
                await session.execute(select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status != "done"))
            ).scalar_one()
            line_of = dict(
                (
                    await session.execute(
                        select(Message.channel_message_id, Message.id).where(
                            Message.direction == "out", Message.channel_message_id.is_not(None)
                        )
                    )
                ).all()
            )
        measured.lost += max(0, people_count * messages - stored) + pending + unsent
        measured.duplicated += max(0, stored - people_count * messages)
        # Each person's replies reached the fake in the order their lines were queued.
        lines: dict[str, list[int]] = {}
        for chat, _, message_id in arrived:
            lines.setdefault(chat, []).append(line_of.get(message_id, -1))
        measured.disordered = sum(1 for seq in lines.values() if -1 in seq or seq != sorted(seq))
        return measured
    finally:
        await app.stop()
        await http.aclose()
        await bench.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1, help="echo and Homeward this many times each, in turn")
    parser.add_argument("--postgres", help="PostgreSQL URL (its public schema is dropped and recreated)")
    parser.add_argument("--profile", help="write a cProfile of Homeward's timed windows on SQLite to this file")
    parser.add_argument("--tasks", action="store_true", help="print each run's CPU per reply by task")
    args = parser.parse_args()
    profile = cProfile.Profile() if args.profile else None
    rounds: list[dict[str, list[Measured]]] = []
    for _ in range(max(1, args.rounds)):
        results: dict[str, list[Measured]] = {}
        for name in args.channels.split(","):
            bench = BENCHES[name]()
            found = results[name] = [await run_echo(bench, args.people, args.messages, args.tasks)]
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{folder}/bench.db"
                await upgrade_async(url)
                sqlite = await run_homeward(bench, args.people, args.messages, url, Path(folder), profile, args.tasks)
                sqlite.name = "Homeward on SQLite"
                found.append(sqlite)
                if args.postgres:
                    await reset_postgres(args.postgres)
                    await upgrade_async(args.postgres)
                    pg = await run_homeward(
                        bench, args.people, args.messages, args.postgres, Path(folder), tasks=args.tasks
                    )
                    pg.name = "Homeward on PostgreSQL"
                    found.append(pg)
        rounds.append(results)
    if profile is not None:
        profile.dump_stats(args.profile)
    print(f"{args.people} people x {args.messages} texts each, load average {os.getloadavg()[0]:.2f}")
    for number, results in enumerate(rounds, 1):
        if len(rounds) > 1:
            print(f"round {number}")
        for name, found in results.items():
            echo = found[0]
            for m in found:
                ratio = "" if m is echo else f"  {m.rate / echo.rate:.2f}x echo, CPU {echo.cpu_each / m.cpu_each:.2f}x"
                print(
                    f"{name:9} {m.name:24} {m.rate:8.1f} replies/s "
                    f"({m.replies} in {m.seconds:.2f} s, CPU {1000 * m.cpu_each:.2f} ms a reply){ratio:28}"
                    f"  lost {m.lost}  dup {m.duplicated}  people out of order {m.disordered}"
                )
                for owner, seconds in sorted(m.tasks.items(), key=lambda kv: -kv[1])[:TASKS_SHOWN]:
                    print(f"{'':36}{1e6 * seconds / max(1, m.replies):8.1f} µs a reply  {owner}")
    medians: dict[str, float] = {}
    if len(rounds) > 1:
        print(f"medians over {len(rounds)} rounds (each ratio against the echo of its own round)")
    for name in rounds[0]:
        for n, label in enumerate(m.name for m in rounds[0][name][1:]):
            rates = [r[name][n + 1].rate / r[name][0].rate for r in rounds]
            cpus = [r[name][0].cpu_each / r[name][n + 1].cpu_each for r in rounds]
            if n == 0:
                medians[name] = statistics.median(rates)
            if len(rounds) > 1:
                print(
                    f"{name:9} {label:24} {statistics.median(rates):.2f}x echo, CPU {statistics.median(cpus):.2f}x"
                    f"  (rate ratios {min(rates):.2f}-{max(rates):.2f})"
                )
    met = all(ratio >= 0.5 for ratio in medians.values())
    print(f"target every channel on SQLite >= 0.5x its echo: {'met' if met else 'not met'}")
    broken = itertools.chain.from_iterable(
        [m.lost or m.duplicated for m in found] + [m.disordered for m in found[1:]]
        for results in rounds
        for found in results.values()
    )
    return 1 if any(broken) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
