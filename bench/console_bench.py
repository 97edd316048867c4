"""Benchmark of the caseworker console on 100,000 beneficiaries and 1,000,000 messages.

Generates the data into SQLite and into PostgreSQL (bulk: executemany and COPY), then measures
the server time of the inbox's first page (with its filter counts, as a caseworker opens it) and
of transcript search (FTS5 / GIN full-text index) against a plain `LIKE` scan of the folded text
returning the same page, in the same run. Prints p50/p95 in milliseconds and the ratios.
Run: python -m bench.console_bench [--people 100000] [--messages 1000000] [--runs 30]
     [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/homeward_bench | --no-postgres]
     [--keep bench.db [--reuse]]
With `--keep` the SQLite file stays where given; with `--reuse` a run measures the data an earlier run
left (that file, and the PostgreSQL database when it holds as many messages), after bringing both to
the newest migration: generating a million messages takes minutes, measuring them does not.
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

import console.followups  # noqa: F401  (registers the "follow-up due" filter, as the console does)
from bench import inbox_before
from bot.text import fold
from console import inbox, notifications
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
CHANNELS, CHANNEL_WEIGHTS = ["telegram", "whatsapp", "viber", "web"], [60, 20, 15, 5]
STATUSES, STATUS_WEIGHTS = ["open", "pending", "snoozed"], [94, 4, 2]
FOLLOWUP_STATUSES, FOLLOWUP_WEIGHTS = ["planned", "sent", "answered", "skipped", "expired"], [40, 10, 30, 10, 10]
RARE = [("лична карта", 150), ("shëndetësi", 1500)]
ADMIN = Staff(id=1, name="ada", role="admin", municipalities=(), locale=None, csrf="", session_id="")
LIMITED = Staff(id=2, name="amra", role="caseworker", municipalities=("Prizren",), locale=None, csrf="", session_id="")

# Every view a caseworker opens from the filter bar, alone and narrowed, as an admin and as a caseworker
# limited to one municipality (staff 2, who is also an assignee of some conversations).
VIEWS = [
    *((key, ADMIN, inbox.Query(key)) for key in inbox.FILTERS),
    ("open, page 20", ADMIN, inbox.Query("open", page=20)),
    ("open, Prizren", ADMIN, inbox.Query("open", municipality="Prizren")),
    ("needs_human, Prizren", ADMIN, inbox.Query("needs_human", municipality="Prizren")),
    ("open, Viber", ADMIN, inbox.Query("open", app="viber")),
    ("open, Serbian (Cyrillic)", ADMIN, inbox.Query("open", locale="sr-Cyrl")),
    ("pending, web chat, Prizren", ADMIN, inbox.Query("pending", municipality="Prizren", app="web")),
    ("limited: needs_human", LIMITED, inbox.Query("needs_human")),
    ("limited: open", LIMITED, inbox.Query("open")),
    ("limited: mine", LIMITED, inbox.Query("mine")),
    ("limited: snoozed", LIMITED, inbox.Query("snoozed")),
]


def people_rows(n: int, rng: random.Random) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    people, conversations = [], []
    for i in range(1, n + 1):
        created = NOW - timedelta(days=rng.randint(1, 700))
        people.append(
            (
                i,
                rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
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
        needs_human = mode == "human" and rng.random() < 0.7
        status = "open" if mode == "closed" else rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        conversations.append(
            (
                i,
                i,
                mode,
                "{}",
                rng.random() < 0.005,
                needs_human,
                rng.choice([1, 2, 3, 4, 5]) if rng.random() < 0.05 else None,
                "[]",
                created,
                last,
                last,
                status,
                NOW + timedelta(days=rng.randint(1, 30)) if status == "snoozed" else None,
                last if needs_human else None,
            )
        )
    return people, conversations


def followup_rows(people: int, rng: random.Random) -> list[tuple[Any, ...]]:
    """A first follow-up wave for some of the people; those `sent` and unanswered are "follow-up due"."""
    rows = []
    for i in range(1, people + 1):
        if rng.random() < 0.3:
            due = NOW - timedelta(days=rng.randint(0, 200))
            status = rng.choices(FOLLOWUP_STATUSES, FOLLOWUP_WEIGHTS)[0]
            rows.append((len(rows) + 1, i, 1, 3, due, due + timedelta(days=30), "[]", status, due, due))
    return rows


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
                norm if inbound else None,  # the bot's own lines are not searched (`bot.outbox`)
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
    "id, beneficiary_id, mode, state, urgent, needs_human, assignee_id, labels, created_at, updated_at,"
    " last_message_at, status, snoozed_until, handoff_at"
)
FOLLOWUP_COLS = "id, beneficiary_id, wave, months, due_at, expires_at, reminders, status, sent_at, updated_at"
MSG_COLS = "id, conversation_id, direction, author, kind, text, norm_text, status, created_at"


def _sqlite_value(v: Any) -> Any:
    return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime) else v


def load_sqlite(
    path: Path, people: list[Any], conversations: list[Any], messages: list[Any], contacts: list[Any]
) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    with db:
        for table, cols, rows in (
            ("beneficiaries", PEOPLE_COLS, people),
            ("conversations", CONV_COLS, conversations),
            ("messages", MSG_COLS, messages),
            ("followup_contacts", FOLLOWUP_COLS, contacts),
        ):
            marks = ", ".join("?" * len(cols.split(",")))
            db.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                ([_sqlite_value(v) for v in row] for row in rows),
            )
    db.execute("ANALYZE")
    db.close()


async def load_postgres(
    url: str, people: list[Any], conversations: list[Any], messages: list[Any], contacts: list[Any]
) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        for table, cols, rows in (
            ("beneficiaries", PEOPLE_COLS, people),
            ("conversations", CONV_COLS, conversations),
            ("messages", MSG_COLS, messages),
            ("followup_contacts", FOLLOWUP_COLS, contacts),
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
            async def call() -> object:  # what the inbox route asks: the page with its counts, and what is unread
                async with db.sessions() as session:
                    found = await inbox.load(session, staff, query)
                    return await notifications.unread_among(session, staff, [r.conversation_id for r in found.rows])

            return call

        async def before(staff: Staff, query: inbox.Query) -> Callable[[], Awaitable[object]]:
            async def call() -> object:
                async with db.sessions() as session:
                    previews, _ = await inbox_before.load(session, staff, query)
                    return previews

            return call

        for label, staff, query in VIEWS:
            p50, p95 = await timed(runs, await page(staff, query))
            b50, b95 = await timed(runs, await before(staff, query))
            results.append((f"inbox: {label}", p50, p95, b50, b95))
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
    print("baseline: for the inbox its queries before (bench/inbox_before.py), for search a LIKE scan")
    print(f"{'query':36} {'p50 ms':>8} {'p95 ms':>8} {'base p50':>9} {'base p95':>9} {'ratio p50':>10} {'p95':>6}")
    for label, p50, p95, l50, l95 in rows:
        ratios = f"{l50 / max(p50, 0.001):9.1f}x {l95 / max(p95, 0.001):5.1f}x"
        print(f"{label:36} {p50:8.1f} {p95:8.1f} {l50:9.1f} {l95:9.1f} {ratios}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/homeward_bench")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep", type=Path, help="SQLite file to keep (and, with --reuse, to measure again)")
    parser.add_argument("--reuse", action="store_true", help="measure the data an earlier run left, if it is there")
    args = parser.parse_args()
    data: list[tuple[list[Any], list[Any], list[Any], list[Any]]] = []
    generated = 0.0

    def generate() -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        nonlocal generated
        if not data:
            rng = random.Random(7)
            start = time.perf_counter()
            people, conversations = people_rows(args.people, rng)
            messages = message_rows(args.messages, args.people, rng)
            data.append((people, conversations, messages, followup_rows(args.people, rng)))
            generated = time.perf_counter() - start
            print(f"generated {args.people} people and {args.messages} messages in {generated:.1f} s")
        return data[0]

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        start = time.perf_counter()
        if not args.no_sqlite:
            if args.reuse and path.exists() and _sqlite_messages(path) == args.messages:
                await upgrade_async(url)
                await asyncio.to_thread(_sqlite_analyze, path)
                print(f"SQLite: reused {path}")
            else:
                path.unlink(missing_ok=True)
                await upgrade_async(url)
                await asyncio.to_thread(load_sqlite, path, *generate())
            report("SQLite (FTS5)", await measure(url, args.runs), generated + time.perf_counter() - start)
    if not args.no_postgres:
        start = time.perf_counter()
        if args.reuse and await _postgres_messages(args.postgres) == args.messages:
            await upgrade_async(args.postgres)
            await _postgres_analyze(args.postgres)
            print("PostgreSQL: reused the data of an earlier run")
            loaded = 0.0
        else:
            await reset_postgres(args.postgres)
            await upgrade_async(args.postgres)
            await load_postgres(args.postgres, *generate())
            loaded = generated
        report("PostgreSQL (GIN)", await measure(args.postgres, args.runs), loaded + time.perf_counter() - start)


def _sqlite_messages(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.Error:
        return -1
    finally:
        db.close()


def _sqlite_analyze(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("ANALYZE")
    db.close()


async def _postgres_messages(url: str) -> int:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM messages"))
    except asyncpg.PostgresError:
        return -1
    finally:
        await conn.close()


async def _postgres_analyze(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
