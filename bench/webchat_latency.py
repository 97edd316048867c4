"""Web chat page: time from a typed question or a pressed button to the answer on the page.

What is measured. Homeward serves the chat page over real HTTP (uvicorn on a free local port, as
`homeward serve` does, on a fresh temporary SQLite file, or with `--postgres URL` on PostgreSQL).
Each simulated browser opens the page, keeps its live stream (`/chat/events`) open like the
page's EventSource, and posts what the person does to `/chat/messages`. The time runs from just
before the POST to the moment the answer's first bubble arrives on the stream. Four paths, in one
run, on one machine:

  * consented, typed question (answered by the knowledge base, from the transcript);
  * consented, button (the privacy screen from the menu);
  * declined consent, typed question (no transcript: the page collects what delivery handed over);
  * declined consent, button.

The declined paths were the fast ones before the stream was woken at commit; they are the
baseline, and the ratios are printed against them. Each path uses several visitors in turn, so
no visitor's per-chat delivery pace (about one message a second, after a burst of three) or
message limit is reached; the visitors are onboarded before the clock runs. The bench drops and
recreates the `public` schema of a PostgreSQL database it is given: never point it at a database
whose data you want to keep.

Run: python -m bench.webchat_latency [--samples 35] [--visitors 6] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text

from bot.app import Homeward
from bot.config import Settings
from bot.server import settle_collector, web_app
from db.migrate import upgrade_async
from db.session import create_engine

QUESTIONS = [
    "Sapo kam arritur në aeroportin e Prishtinës, çfarë duhet të bëj?",
    "Si mund ta marr letërnjoftimin?",
    "Ku mund ta regjistroj fëmijën në shkollë?",
    "Si të marr sigurim shëndetësor?",
    "Ku ta kërkoj punë?",
]
BUTTON = "menu:privacy"


@dataclass
class Browser:
    """One visitor's page: its cookie, its token and what its live stream delivers, with arrival times."""

    http: httpx.AsyncClient
    token: str = ""
    arrived: asyncio.Queue[tuple[float, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None

    async def open(self) -> Browser:
        page = await self.http.get("/chat")
        page.raise_for_status()
        self.token = page.text.split('name="chat-token" content="')[1].split('"')[0]
        self.reader = asyncio.create_task(self._listen())
        return self

    async def _listen(self) -> None:
        cursor = 0
        while True:
            async with self.http.stream("GET", f"/chat/events?after={cursor}", timeout=None) as stream:
                event = ""
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "line":
                        data = json.loads(line[6:])
                        cursor = data["cursor"]
                        self.arrived.put_nowait((time.perf_counter(), data))

    async def post(self, **event: str) -> None:
        response = await self.http.post(
            "/chat/messages", json={"id": secrets.token_hex(8), **event}, headers={"x-chat-token": self.token}
        )
        response.raise_for_status()

    async def answer(self, timeout: float = 30.0) -> float:
        """Arrival time of the next bubble from the bot (not the person's own, not a pressed button)."""
        while True:
            at, line = await asyncio.wait_for(self.arrived.get(), timeout)
            if not line["mine"] and not line.get("chose"):
                return at

    async def settle(self) -> None:
        """Let the rest of the last answer arrive, then forget it."""
        await asyncio.sleep(0.25)
        while not self.arrived.empty():
            self.arrived.get_nowait()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        await self.http.aclose()


async def onboarded(base: str, consent: str) -> Browser:
    browser = await Browser(httpx.AsyncClient(base_url=base, headers={"accept-language": "sq"})).open()
    for event in ({"text": "/start"}, {"data": "lang:sq"}, {"data": f"consent:{consent}"}):
        await browser.post(**event)
        await browser.answer()
        await browser.settle()
    return browser


async def measure(browsers: list[Browser], samples: int, typed: bool) -> list[float]:
    times = []
    for i in range(samples):
        browser = browsers[i % len(browsers)]
        started = time.perf_counter()
        if typed:
            await browser.post(text=QUESTIONS[i % len(QUESTIONS)])
        else:
            await browser.post(data=BUTTON)
        times.append((await browser.answer()) - started)
        await browser.settle()
    return times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_on(url: str, label: str, samples: int, visitors: int, data_dir: Path) -> list[tuple[str, list[float]]]:
    settings = Settings(
        database_url=url,
        secret_key="bench-secret-key",
        data_dir=data_dir,
        telegram_token=None,
        webchat_visitors_per_address=10_000,
        kb_embeddings=False,  # lexical ranking: bench.kb_eval prints what the embeddings cost per question
        _env_file=None,  # type: ignore[call-arg]
    )
    app = Homeward(settings)
    await app.start(polling=False)
    settle_collector()
    port = _free_port()
    config = uvicorn.Config(
        web_app(app, webhook=False, console=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=120,  # a visitor's connection idles while the others are measured (slow when busy)
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        agreed = [await onboarded(base, "yes") for _ in range(visitors)]
        declined = [await onboarded(base, "no") for _ in range(visitors)]
        results.append((f"{label}: consented, typed question", await measure(agreed, samples, typed=True)))
        results.append((f"{label}: consented, button", await measure(agreed, samples, typed=False)))
        results.append((f"{label}: declined, typed question", await measure(declined, samples, typed=True)))
        results.append((f"{label}: declined, button", await measure(declined, samples, typed=False)))
        for browser in agreed + declined:
            await browser.close()
    finally:
        server.should_exit = True
        await serving
        await app.stop()
    return results


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade_async(url)


def report(results: list[tuple[str, list[float]]]) -> None:
    def p(times: list[float], q: int) -> float:
        return statistics.quantiles(times, n=100, method="inclusive")[q - 1] * 1000

    print(f"{'path':48} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}")
    for name, times in results:
        print(f"{name:48} {len(times):>4} {p(times, 50):>8.1f} {p(times, 95):>8.1f}")
    by_name = dict(results)
    for name, times in results:
        if ": consented, " in name:
            baseline = by_name[name.replace(": consented, ", ": declined, ")]
            ratio = p(times, 50) / p(baseline, 50)
            label, path = name.split(": ", 1)
            print(f"{label}: p50 ratio {path} / declined {path.split(', ', 1)[1]}: {ratio:.2f}")


async def main_async(samples: int, visitors: int, postgres: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="homeward-webchat-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'homeward.db'}"
        await upgrade_async(url)
        results = await run_on(url, "SQLite", samples, visitors, Path(folder) / "data")
        if postgres:
            await reset_postgres(postgres)
            results += await run_on(postgres, "PostgreSQL", samples, visitors, Path(folder) / "data")
    report(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=35)
    parser.add_argument("--visitors", type=int, default=6)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL whose public schema may be dropped")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.samples, args.visitors, args.postgres))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
