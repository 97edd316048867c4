"""Fifty caseworkers with live console pages open while people write: event delay and server CPU.

What is measured. `homeward serve` runs as its own process (console and web chat on a free local
port, a fresh temporary SQLite file, or with `--postgres URL` on PostgreSQL), so its CPU time can be
read from /proc apart from the simulated browsers. Each caseworker signs in and keeps what a
browser keeps open: the alerts stream every console page holds (`/events/alerts`) and the live
stream of one conversation's page (`/conversations/{id}/events`), answering nothing but reading
every event. Every fifth caseworker also has the inbox open in another tab: its stream
(`/events/inbox`) says "changed" and, like the page's script, the tab then loads `/inbox` again.
People write on the web chat page, each a question every `--every` seconds (with jitter); the bot
answers them. Four phases, in one run, each `--seconds` long:

  A. idle: nobody writes, no console page is open;
  B. pages open: the caseworkers' streams are open, nobody writes;
  C. writing: people write, no console page is open;
  D. writing with pages open: people write, the caseworkers watch.

Printed: the server's CPU (% of one core) in each phase and the ratios B/A and D/C (what the live
pages cost), and in phase D the delay from a person's message being accepted (the POST's answer)
to the event carrying it arriving on the stream of the caseworker watching that conversation
(p50 / p95 / max, ms), with how many events were expected and how many arrived. The target is an
event delay p95 under one second. The bench drops and recreates the `public` schema of a
PostgreSQL database it is given: never point it at a database whose data you want to keep.

Run: python -m bench.console_live [--caseworkers 50] [--seconds 30] [--every 10] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import bindparam, text

from bench.webchat_latency import reset_postgres
from console import auth
from db.migrate import upgrade_async
from db.session import Database

PASSWORD = "bench horse battery staple"
QUESTIONS = [
    "Si mund ta marr letërnjoftimin?",
    "Ku mund ta regjistroj fëmijën në shkollë?",
    "Si të marr sigurim shëndetësor?",
    "Где могу да нађем посао?",
    "Kako da prijavim adresu?",
]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TICKS = os.sysconf("SC_CLK_TCK")
OnEvent = Callable[[str, dict[str, object]], Awaitable[None]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its waited-for children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS


@dataclass
class Visitor:
    """A person on the web chat page (no stream of their own: the answers are not what is timed)."""

    http: httpx.AsyncClient
    token: str = ""
    conversation_id: int = 0

    async def open(self) -> Visitor:
        page = await self.http.get("/chat")
        page.raise_for_status()
        self.token = page.text.split('name="chat-token" content="')[1].split('"')[0]
        return self

    async def post(self, **event: str) -> float:
        response = await self.http.post(
            "/chat/messages", json={"id": secrets.token_hex(8), **event}, headers={"x-chat-token": self.token}
        )
        response.raise_for_status()
        return time.time()


@dataclass
class Caseworker:
    http: httpx.AsyncClient
    conversation_id: int
    inbox_tab: bool
    arrivals: list[tuple[float, str, int]] = field(default_factory=list)  # (time, message tag, message id)
    inbox_loads: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def sign_in(self, name: str) -> None:
        form = await self.http.get("/login")
        token = CSRF.search(form.text)
        assert token is not None, form.text[:200]
        done = await self.http.post("/login", data={"name": name, "password": PASSWORD, "csrf": token.group(1)})
        assert done.status_code in (302, 303), done.status_code

    async def _stream(self, url: Callable[[], str], on_event: OnEvent) -> None:
        while True:
            try:
                async with self.http.stream("GET", url(), timeout=None) as stream:
                    event = ""
                    async for line in stream.aiter_lines():
                        if line.startswith("event: "):
                            event = line[7:]
                        elif line.startswith("data: "):
                            await on_event(event, json.loads(line[6:]))
            except httpx.HTTPError:
                await asyncio.sleep(0.5)

    def open_pages(self, after: int) -> None:
        cursor = [after]

        async def page_event(name: str, data: dict[str, object]) -> None:
            if name == "messages":
                at = time.time()
                cursor[0] = int(data["last"])  # type: ignore[call-overload]
                for item in str(data["html"]).split("<li ")[1:]:
                    mid = re.search(r'data-id="(\d+)"', item)
                    for tag in re.findall(r"Q\d+-\d+", item):
                        self.arrivals.append((at, tag, int(mid.group(1)) if mid else 0))

        async def alerts(name: str, data: dict[str, object]) -> None:
            return None

        async def inbox(name: str, data: dict[str, object]) -> None:
            if name == "changed":
                (await self.http.get("/inbox")).raise_for_status()
                self.inbox_loads += 1

        base = f"/conversations/{self.conversation_id}/events"
        self.tasks.append(asyncio.create_task(self._stream(lambda: f"{base}?after={cursor[0]}", page_event)))
        self.tasks.append(asyncio.create_task(self._stream(lambda: "/events/alerts", alerts)))
        if self.inbox_tab:
            self.tasks.append(asyncio.create_task(self._stream(lambda: "/events/inbox", inbox)))

    async def close_pages(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()


async def prepare_accounts(url: str, caseworkers: int) -> None:
    database = Database(url)
    async with database.transaction() as session:
        for i in range(caseworkers):
            await auth.create_account(
                session,
                name=f"cw{i:02d}",
                password=PASSWORD,
                role="caseworker",
                municipalities=[],
                now=datetime.now(UTC),
            )
    await database.dispose()


@dataclass
class Result:
    label: str
    cpu: dict[str, float] = field(default_factory=dict)  # phase -> % of one core
    sent: int = 0
    delays: list[float] = field(default_factory=list)  # accepted -> on the page
    shown: list[float] = field(default_factory=list)  # written to the transcript -> on the page
    inbox_loads: int = 0


Sent = list[tuple[int, str, float]]  # (conversation, the message's tag, when its POST was answered)


async def people_write(visitors: list[Visitor], seconds: float, every: float, sent: Sent) -> None:
    """Each visitor writes a question every `every` seconds (jittered) for `seconds`."""
    ends = time.perf_counter() + seconds
    rng = random.Random(7)

    async def one(n: int, visitor: Visitor) -> None:
        await asyncio.sleep(rng.uniform(0, every))
        k = 0
        while time.perf_counter() < ends:
            tag = f"Q{n}-{k}"
            accepted = await visitor.post(text=f"{QUESTIONS[(n + k) % len(QUESTIONS)]} {tag}")
            sent.append((visitor.conversation_id, tag, accepted))
            k += 1
            await asyncio.sleep(every * rng.uniform(0.8, 1.2))

    await asyncio.gather(*(one(n, v) for n, v in enumerate(visitors)))


async def phase(pid: int, seconds: float, work: object = None) -> float:
    """The server's CPU in % of one core while `work` runs (or while idle for `seconds`)."""
    started_cpu, started = cpu_seconds(pid), time.perf_counter()
    if work is None:
        await asyncio.sleep(seconds)
    else:
        await work  # type: ignore[misc]
    return 100 * (cpu_seconds(pid) - started_cpu) / (time.perf_counter() - started)


async def quiet(pid: int, below: float = 5.0, limit: float = 600.0) -> float:
    """Wait until the server's CPU stays under `below` % of one core for three seconds in a row."""
    started, calm = time.perf_counter(), 0
    while calm < 3 and time.perf_counter() - started < limit:
        calm = calm + 1 if await phase(pid, 1.0) < below else 0
    return time.perf_counter() - started


async def run_on(url: str, label: str, args: argparse.Namespace, folder: Path) -> Result:
    await prepare_accounts(url, args.caseworkers)
    port = _free_port()
    env = {
        **os.environ,
        "HOMEWARD_DATABASE_URL": url,
        "HOMEWARD_SECRET_KEY": "bench-secret-key-bench-secret-key",
        "HOMEWARD_DATA_DIR": str(folder / f"data-{label}"),
        "HOMEWARD_CONSOLE_PORT": str(port),
        "HOMEWARD_TELEGRAM_TOKEN": "",
        "HOMEWARD_WEBCHAT_VISITORS_PER_ADDRESS": "100000",
        "HOMEWARD_WEBCHAT_MESSAGES_PER_ADDRESS": "100000",
        "HOMEWARD_WEBCHAT_STREAMS_PER_ADDRESS": "100000",
        "HOMEWARD_LOG_LEVEL": "WARNING",
    }
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "serve", env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    try:
        async with httpx.AsyncClient(base_url=base) as probe:
            for _ in range(1200):  # start-up on a busy machine can take a while
                if server.returncode is not None:
                    raise SystemExit(f"homeward serve ended with {server.returncode}")
                try:
                    if (await probe.get("/login")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        visitors: list[Visitor] = []
        for _ in range(args.caseworkers):
            visitor = await Visitor(
                httpx.AsyncClient(base_url=base, headers={"accept-language": "sq"}, timeout=60)
            ).open()
            for event in ({"text": "/start"}, {"data": "lang:sq"}, {"data": "consent:yes"}):
                await visitor.post(**event)
                await asyncio.sleep(0.05)
            visitors.append(visitor)
        await asyncio.sleep(2.0)  # the onboarding answers go out
        workers: list[Caseworker] = []
        for visitor, conversation_id in zip(visitors, await newest_conversations(url, len(visitors)), strict=True):
            visitor.conversation_id = conversation_id
            http = httpx.AsyncClient(base_url=base, limits=limits, timeout=60)
            worker = Caseworker(http, conversation_id, inbox_tab=len(workers) % 5 == 0)
            await worker.sign_in(f"cw{len(workers):02d}")
            workers.append(worker)

        # The server embeds the knowledge base's topics and examples in the background at its first start
        # (tens of seconds of one core); the phases measure it once that is done.
        settled = await quiet(server.pid)
        print(f"  {label}: the server settled {settled:.0f} s after the pages were set up", flush=True)
        result = Result(label)
        result.cpu["A"] = await phase(server.pid, args.seconds)
        for worker in workers:
            worker.open_pages(await last_message(url, worker.conversation_id))
        await asyncio.sleep(1.0)
        result.cpu["B"] = await phase(server.pid, args.seconds)
        for worker in workers:
            await worker.close_pages()
            worker.arrivals.clear()
        await asyncio.sleep(1.0)
        baseline: Sent = []
        result.cpu["C"] = await phase(server.pid, 0, people_write(visitors, args.seconds, args.every, baseline))
        await asyncio.sleep(3.0)  # let the answers of phase C go before the pages open
        for worker in workers:
            worker.open_pages(await last_message(url, worker.conversation_id))
        await asyncio.sleep(1.0)
        sent: Sent = []
        result.cpu["D"] = await phase(server.pid, 0, people_write(visitors, args.seconds, args.every, sent))
        await asyncio.sleep(3.0)  # events still on their way
        seen: dict[str, tuple[float, int]] = {}
        for worker in workers:
            for at, tag, mid in worker.arrivals:
                seen.setdefault(tag, (at, mid))
        result.delays = sorted(seen[tag][0] - accepted for _, tag, accepted in sent if tag in seen)
        written = await written_at(url, [mid for _, mid in seen.values()])
        result.shown = sorted(at - written[mid] for at, mid in seen.values() if mid in written)
        result.sent = len(sent)
        result.inbox_loads = sum(w.inbox_loads for w in workers)
        for worker in workers:
            await worker.close_pages()
            await worker.http.aclose()
        for visitor in visitors:
            await visitor.http.aclose()
        return result
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), 10)
        except TimeoutError:
            server.kill()
            await server.wait()


async def newest_conversations(url: str, n: int) -> list[int]:
    """The last n conversations, oldest first (the visitors were onboarded in that order)."""
    database = Database(url)
    async with database.sessions() as session:
        found = await session.execute(text("SELECT id FROM conversations ORDER BY id DESC LIMIT :n"), {"n": n})
        ordered = sorted(found.scalars())
    await database.dispose()
    return ordered


async def written_at(url: str, ids: list[int]) -> dict[int, float]:
    """When these messages were written to the transcript (the turn's time), as Unix time."""
    database = Database(url)
    async with database.sessions() as session:
        rows = await session.execute(
            text("SELECT id, created_at FROM messages WHERE id IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"ids": ids},
        )
        found = {}
        for mid, created in rows.all():
            if isinstance(created, str):
                created = datetime.fromisoformat(created)
            found[int(mid)] = (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()
    await database.dispose()
    return found


async def last_message(url: str, conversation_id: int) -> int:
    database = Database(url)
    async with database.sessions() as session:
        found = (
            await session.execute(
                text("SELECT max(id) FROM messages WHERE conversation_id = :c"), {"c": conversation_id}
            )
        ).scalar_one()
    await database.dispose()
    return int(found or 0)


def report(results: list[Result], caseworkers: int) -> None:
    for r in results:
        a, b, c, d = (r.cpu[k] for k in "ABCD")
        delays = r.delays
        print(f"== {r.label}: {caseworkers} caseworkers, server CPU in % of one core")
        print(f"  A idle {a:6.1f}   B pages open {b:6.1f}   C writing {c:6.1f}   D writing, pages open {d:6.1f}")
        print(f"  B/A {b / max(a, 0.1):.2f}   D/C {d / max(c, 0.1):.2f}   inbox reloads in D: {r.inbox_loads}")
        if delays:
            q = statistics.quantiles(delays, n=100, method="inclusive")
            print(
                f"  event delay (accepted -> on the caseworker's page): n={len(delays)} of {r.sent} sent, "
                f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms"
            )
        if len(r.shown) > 1:
            q = statistics.quantiles(r.shown, n=100, method="inclusive")
            print(
                f"  of which written to the transcript -> on the page: "
                f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, max {r.shown[-1] * 1000:.0f} ms"
            )
        else:
            print(f"  no event arrived of {r.sent} sent")


async def main_async(args: argparse.Namespace) -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="homeward-console-live-") as name:
        folder = Path(name)
        url = f"sqlite+aiosqlite:///{folder / 'homeward.db'}"
        await upgrade_async(url)
        results.append(await run_on(url, "SQLite", args, folder))
        if args.postgres:
            await reset_postgres(args.postgres)
            results.append(await run_on(args.postgres, "PostgreSQL", args, folder))
    report(results, args.caseworkers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--caseworkers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between one person's messages")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL whose public schema may be dropped")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
