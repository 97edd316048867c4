"""Replies per second through WhatsApp's webhook: a bare echo and Homeward's full path, on the same fake Graph API.

What is measured. N people (distinct WhatsApp numbers) each send M texts to the webhook
(`POST /whatsapp/webhook`, signed like Meta's), all at once. The clock runs from the first
webhook request to the moment the last reply reaches the fake Graph API; replies per second =
replies / that time. The fake answers each message and reports it `sent` and `delivered`
through the same webhook, as Meta does, so the receipts' load is part of both runs.

  * echo: a Starlette app on the same path that checks the signature, reads the body and answers
    each text with its own text through the Graph API (one aiohttp session), answering Meta 200
    at once. No storage: the floor any WhatsApp bot stands on.
  * Homeward, `Homeward(settings).start()` with its web app: each message stored in the inbox
    before the 200, each turn committed whole (inbound line, state, reply line, outbox row),
    delivery rendering and sending the reply and recording the message id, then the receipts
    moving each line to `delivered`. People are onboarded first (untimed); the timed texts are
    the plain-word menu command ("menu", "meny", "мени"), answered by one list message each, so
    replies count exactly. Homeward's WhatsApp pacing is raised above what the run can reach and
    so is its flood threshold (the echo does not pace).

Everything runs in this one process (the fake Graph API too, and the webhook calls go through
the ASGI apps in memory), so the fake's CPU weighs on both runs alike: compare the ratio.

Nothing may be lost or duplicated: the echo must send exactly one reply per text; Homeward must
store every text once (inbox and transcript), send exactly one reply per text, and record every
outbox row as sent. The exit status is 1 otherwise.

Run: python -m bench.channel_throughput [--people 100] [--messages 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from bot.channels import whatsapp
from bot.config import Settings
from bot.server import WHATSAPP_PATH, web_app
from db.migrate import upgrade_async
from db.models import InboxUpdate, Message, OutboxItem
from db.session import create_engine
from tests import fakegraph
from tests.fakegraph import FakeGraphApi, WaPerson

WORDS = ("menu", "meny", "мени")


@dataclass
class Measured:
    name: str
    replies: int
    seconds: float
    lost: int = 0
    duplicated: int = 0

    @property
    def rate(self) -> float:
        return self.replies / self.seconds if self.seconds else 0.0


def connect(graph: FakeGraphApi, app: Any) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60)

    async def post(body: bytes, headers: dict[str, str]) -> int:
        return (await http.post(WHATSAPP_PATH, content=body, headers=headers)).status_code

    graph.post = post
    return http


def echo_app(graph: FakeGraphApi) -> tuple[Starlette, Callable[[], Awaitable[None]]]:
    """The bare echo bot: signature, body, one Graph API call per text."""
    session: ClientSession | None = None
    tasks: set[asyncio.Task[None]] = set()
    url = f"{graph.base}/{whatsapp.GRAPH_VERSION}/{fakegraph.PHONE_NUMBER_ID}/messages"

    async def reply(to: str, body: str) -> None:
        nonlocal session
        if session is None:
            session = ClientSession(headers={"Authorization": f"Bearer {fakegraph.TOKEN}"})
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
                        task = asyncio.create_task(reply(message["from"], message["text"]["body"]))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
        return JSONResponse({})

    async def close() -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        if session is not None:
            await session.close()

    return Starlette(routes=[Route(WHATSAPP_PATH, receive, methods=["POST"])]), close


async def timed(name: str, graph: FakeGraphApi, people: list[WaPerson], messages: int) -> Measured:
    before = len(graph.sent)
    expected = len(people) * messages
    started = time.perf_counter()

    async def one(person: WaPerson) -> None:
        for n in range(messages):
            await person.says(WORDS[n % len(WORDS)])

    await asyncio.gather(*(one(p) for p in people))
    await graph.wait_for(lambda: len(graph.sent) - before >= expected, timeout=600)
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.5)  # anything extra would arrive now
    per_person = {p.id: 0 for p in people}
    for sent in graph.sent[before:]:
        per_person[sent.to] = per_person.get(sent.to, 0) + 1
    lost = sum(max(0, messages - n) for n in per_person.values())
    duplicated = sum(max(0, n - messages) for n in per_person.values())
    return Measured(name, len(graph.sent) - before, seconds, lost, duplicated)


async def run_echo(people_count: int, messages: int) -> Measured:
    graph = await FakeGraphApi().start()
    graph.receipts = True
    app, close = echo_app(graph)
    http = connect(graph, app)
    try:
        people = [WaPerson(graph, f"38349{n:06d}", f"P{n}") for n in range(people_count)]
        for person in people:  # untimed warm-up: connections and first calls
            await person.says("hi")
        await graph.wait_for(lambda: len(graph.sent) >= people_count, timeout=120)
        return await timed("echo", graph, people, messages)
    finally:
        await close()
        await http.aclose()
        await graph.stop()


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def run_homeward(people_count: int, messages: int, database_url: str, data: Path) -> Measured:
    graph = await FakeGraphApi().start()
    settings = Settings(
        database_url=database_url,
        secret_key="bench-secret-key",
        data_dir=data,
        whatsapp_api_base=graph.base,
        whatsapp_token=fakegraph.TOKEN,
        whatsapp_phone_number_id=fakegraph.PHONE_NUMBER_ID,
        whatsapp_app_secret=fakegraph.APP_SECRET,
        whatsapp_verify_token=fakegraph.VERIFY_TOKEN,
        whatsapp_rate_per_second=100_000.0,
        whatsapp_rate_chat_per_second=10_000.0,
        whatsapp_rate_chat_burst=1_000,
        flood_messages=10_000,
        kb_embeddings=False,  # lexical ranking: bench.kb_eval prints what the embeddings cost per question
        _env_file=None,  # type: ignore[call-arg]
    )
    app = Homeward(settings)
    http = connect(graph, web_app(app, webhook=False, console=False))
    await app.start()
    try:
        people = [WaPerson(graph, f"38349{n:06d}", f"P{n}") for n in range(people_count)]

        async def onboard(person: WaPerson) -> None:
            await person.says("/start")
            await graph.wait_for(lambda: len(person.texts()) >= 1, timeout=120)
            await person.presses("lang:sq")
            await graph.wait_for(lambda: any(m for m in graph.messages(person.id) if _offers(m, "consent:yes")), 120)
            await person.presses("consent:yes")
            await graph.wait_for(lambda: any(m for m in graph.messages(person.id) if _offers(m, "menu:privacy")), 120)

        await asyncio.gather(*(onboard(p) for p in people))
        await app.turns.wait_idle()
        measured = await timed("Homeward", graph, people, messages)
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
        measured.lost += max(0, people_count * messages - stored) + pending + unsent
        measured.duplicated += max(0, stored - people_count * messages)
        return measured
    finally:
        await app.stop()
        await http.aclose()
        await graph.stop()


def _offers(message: dict[str, Any], data: str) -> bool:
    return any(ident == data for ident, _ in fakegraph.choices_of(message))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--postgres", help="PostgreSQL URL (its public schema is dropped and recreated)")
    args = parser.parse_args()
    results = [await run_echo(args.people, args.messages)]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        await upgrade_async(url)
        sqlite = await run_homeward(args.people, args.messages, url, Path(folder))
        sqlite.name = "Homeward on SQLite"
        results.append(sqlite)
        if args.postgres:
            await reset_postgres(args.postgres)
            await upgrade_async(args.postgres)
            pg = await run_homeward(args.people, args.messages, args.postgres, Path(folder))
            pg.name = "Homeward on PostgreSQL"
            results.append(pg)
    echo = results[0]
    print(f"WhatsApp, {args.people} people x {args.messages} texts, load average {os.getloadavg()[0]:.2f}")
    for m in results:
        print(
            f"{m.name:24} {m.rate:8.1f} replies/s  ({m.replies} in {m.seconds:.2f} s)  "
            f"lost {m.lost}  dup {m.duplicated}"
        )
    for m in results[1:]:
        print(f"ratio {m.name} / echo: {m.rate / echo.rate:.2f}x")
    print(f"target Homeward on SQLite >= 0.5x the echo: {'met' if results[1].rate >= 0.5 * echo.rate else 'not met'}")
    return 1 if any(m.lost or m.duplicated for m in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
