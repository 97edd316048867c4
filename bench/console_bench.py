"""Benchmark of the caseworker console on 100,000 beneficiaries and 1,000,000 messages.

Generates the data into SQLite and into PostgreSQL (bulk: executemany and COPY), then measures
the server time of the inbox's first page (with its filter counts, as a caseworker opens it) and
of transcript search (FTS5 / GIN full-text index) against a plain `LIKE` scan of the folded text
returning the same page, in the same run. Prints p50/p95 in milliseconds and the ratios.
Run: python -m bench.console_bench [--people 100000] [--messages 1000000] [--runs 30]
     [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/homeward_bench | --no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from bot.text import fold
from console import inbox
from console.access import Staff
from console.search import Method, search
from db.migrate import upgrade_async
from db.search import PG_DDL, PG_INDEX
from db.session import Database

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MUNICIPALITIES = [
    "Prishtinë",
    "Prizren",
    "Pejë",
    "Gjakovë",
    "Mitrovicë",
    "Ferizaj",
    "Gjilan",
    "Vushtrri",
    "Podujevë",
    "Rahovec",
    "Fushë Kosovë",
    "Graçanicë",
    "Shtërpcë",
    "Zveçan",
]
WORDS = (
    "si mund te marr ndihme per shendetin dokumentet shkolla puna banesa femijet kthimi zyra komuna "
    "где могу да добијем помоћ за здравље документа школа посао стан деца повратак општина канцеларија "
    "kako mogu dobiti pomoc zdravstveno osiguranje prijava adresa izvod rodjenih uverenje "
    "faleminderit hvala mirëdita добар дан ju lutem молим шта kur када ku"
).split()
RARE = [("лична карта", 150), ("shëndetësi", 1500)]
ADMIN = Staff(id=1, name="ada", role="admin", municipalities=(), locale=None, csrf="", session_id="")
LIMITED = Staff(id=2, name="amra", role="caseworker", municipalities=("Prizren",), locale=None, csrf="", session_id="")


def people_rows(n: int, rng: random.Random) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    people, conversations = [], []
    for i in range(1, n + 1):
        created = NOW - timedelta(days=rng.randint(1, 700))
        people.append(
            (
                i,
                "telegram",
                f"ref{i:08d}",
                str(100000 + i),
                str(100000 + i),
                f"Person {i}",
                rng.choice(["sq", "sr-Cyrl", "sr-Latn"]),
                "given",
                1,
                created,
                "sq",
                rng.choice(MUNICIPALITIES),
                False,
                False,
                created,
                created,
            )
        )
        roll = rng.random()
        mode = "closed" if roll < 0.1 else "human" if roll < 0.13 else "bot"
        last = NOW - timedelta(minutes=rng.randint(1, 525600))
        conversations.append(
            (
                i,
                i,
                mode,
                "{}",
                rng.random() < 0.005,
                mode == "human" and rng.random() < 0.7,
                rng.choice([1, 2, 3, 4, 5]) if rng.random() < 0.05 else None,
                "[]",
                created,
                last,
                last,
            )
        )
    return people, conversations


def message_rows(n: int, conversations: int, rng: random.Random) -> list[tuple[Any, ...]]:
    folded = [fold(w) for w in WORDS]
    rare_at = {rng.randrange(n): phrase for phrase, count in RARE for _ in range(count)}
    rows = []
    for i in range(1, n + 1):
        idx = [rng.randrange(len(WORDS)) for _ in range(rng.randint(3, 14))]
        body, norm = " ".join(WORDS[j] for j in idx), " ".join(folded[j] for j in idx)
        if i - 1 in rare_at:
            body, norm = f"{body} {rare_at[i - 1]}", f"{norm} {fold(rare_at[i - 1])}"
        inbound = rng.random() < 0.5
        rows.append(
            (
                i,
                rng.randint(1, conversations),
                "in" if inbound else "out",
                "person" if inbound else "bot",
                "text",
                body,
                norm,
                "received" if inbound else "sent",
                NOW - timedelta(minutes=rng.randint(1, 525600)),
            )
        )
    return rows


PEOPLE_COLS = (
    "id, channel, channel_ref, channel_user_id, chat_id, display_name, locale, consent, consent_version, "
    "consent_at, consent_locale, municipality, opted_out, blocked, created_at, last_contact_at"
)
CONV_COLS = (
    "id, beneficiary_id, mode, state, urgent, needs_human, assignee_id, labels, created_at, updated_at, last_message_at"
)
MSG_COLS = "id, conversation_id, direction, author, kind, text, norm_text, status, created_at"


def _sqlite_value(v: Any) -> Any:
    return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime) else v


def load_sqlite(path: Path, people: list[Any], conversations: list[Any], messages: list[Any]) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    with db:
        for table, cols, rows in (
            ("beneficiaries", PEOPLE_COLS, people),
            ("conversations", CONV_COLS, conversations),
            ("messages", MSG_COLS, messages),
        ):
            marks = ", ".join("?" * len(cols.split(",")))
            db.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                ([_sqlite_value(v) for v in row] for row in rows),
            )
    db.execute("ANALYZE")
    db.close()


async def load_postgres(url: str, people: list[Any], conversations: list[Any], messages: list[Any]) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        for table, cols, rows in (
            ("beneficiaries", PEOPLE_COLS, people),
            ("conversations", CONV_COLS, conversations),
            ("messages", MSG_COLS, messages),
        ):
            await conn.copy_records_to_table(table, records=rows, columns=[c.strip() for c in cols.split(",")])
        await conn.execute(PG_DDL[1])  # the GIN index, built once after the load
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def reset_postgres(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.dispose()


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    await call()  # warm the cache, as a running server would be
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


async def measure(url: str, runs: int) -> list[tuple[str, float, float, float, float]]:
    db = Database(url)
    results = []
    try:

        async def page(staff: Staff, query: inbox.Query) -> Callable[[], Awaitable[object]]:
            async def call() -> object:
                async with db.sessions() as session:
                    return await inbox.load(session, staff, query)

            return call

        for label, staff, query in (
            ("inbox: needs a caseworker", ADMIN, inbox.Query("needs_human")),
            ("inbox: open, all", ADMIN, inbox.Query("open")),
            ("inbox: limited to Prizren", LIMITED, inbox.Query("needs_human")),
        ):
            p50, p95 = await timed(runs, await page(staff, query))
            results.append((label, p50, p95, float("nan"), float("nan")))
        for q in (
            "licna karta",
            "shendetesi",
            "zdravstveno osiguranje",
            "dokumentet komuna",
            "nothing-like-this",
        ):

            async def find(method: Method, q: str = q) -> object:
                async with db.sessions() as session:
                    return await search(session, ADMIN, q, is_sqlite=db.is_sqlite, method=method)

            p50, p95 = await timed(runs, lambda: find(Method.INDEX))
            l50, l95 = await timed(max(5, runs // 3), lambda: find(Method.LIKE))
            results.append((f"search: {q}", p50, p95, l50, l95))
    finally:
        await db.dispose()
    return results


def report(name: str, rows: list[tuple[str, float, float, float, float]], load_seconds: float) -> None:
    print(f"\n{name} (generated and loaded in {load_seconds:.0f} s)")
    print(f"{'query':34} {'p50 ms':>8} {'p95 ms':>8} {'LIKE p50':>9} {'LIKE p95':>9} {'ratio p50':>10}")
    for label, p50, p95, l50, l95 in rows:
        if l50 != l50:  # no baseline: the inbox page has no LIKE counterpart
            print(f"{label:34} {p50:8.1f} {p95:8.1f} {'':>9} {'':>9} {'':>10}")
        else:
            print(f"{label:34} {p50:8.1f} {p95:8.1f} {l50:9.1f} {l95:9.1f} {l50 / max(p50, 0.001):9.1f}x")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/homeward_bench")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    start = time.perf_counter()
    people, conversations = people_rows(args.people, rng)
    messages = message_rows(args.messages, args.people, rng)
    generated = time.perf_counter() - start
    print(f"generated {len(people)} people and {len(messages)} messages in {generated:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        start = time.perf_counter()
        await upgrade_async(url)
        await asyncio.to_thread(load_sqlite, path, people, conversations, messages)
        report("SQLite (FTS5)", await measure(url, args.runs), generated + time.perf_counter() - start)
    if not args.no_postgres:
        start = time.perf_counter()
        await reset_postgres(args.postgres)
        await upgrade_async(args.postgres)
        await load_postgres(args.postgres, people, conversations, messages)
        report(
            "PostgreSQL (GIN)",
            await measure(args.postgres, args.runs),
            generated + time.perf_counter() - start,
        )


if __name__ == "__main__":
    asyncio.run(main())
