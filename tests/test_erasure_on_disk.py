"""An erasure leaves no byte of what it erased in the database files.

On SQLite the bytes of the database file, its write-ahead log (`-wal`) and its index (`-shm`)
are read after `/delete` and after a retention run, and searched for the person's words, name and
chat id: in the rows, the full-text index's segments, freed pages and the log. On PostgreSQL, where the
files are the server's, the test checks that the tables the erasure touched were vacuumed after it
committed.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.app import Homeward
from db.erasure import personal_tables
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

NAME = "Xhevqerime Zgjoqvadaj"
TELEGRAM_ID = 731904586
WORDS = ("qzoravetkuqja", "xyvlerinadhja", "vzharkomenit")
SAID = f"ku mund ta gjej {WORDS[0]} per {WORDS[1]} te {WORDS[2]}"
# What is searched for: the search index stores a term after the letters it shares with the term
# before it, so each word (and name) is looked for from its fourth letter on; the chat id whole.
SECRETS = {s: s[3:] for s in (*WORDS, *NAME.lower().split())} | {str(TELEGRAM_ID): str(TELEGRAM_ID)}


def _files(url: str) -> dict[str, bytes]:
    path = Path(make_url(url).database or "")
    return {p.name: p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()}


def _found(url: str) -> dict[str, list[str]]:
    """For each database file, the secrets still in its bytes (case folded)."""
    return {
        name: [s for s, needle in SECRETS.items() if needle.encode() in data.lower()]
        for name, data in _files(url).items()
        if any(needle.encode() in data.lower() for needle in SECRETS.values())
    }


async def _talked(app: Homeward, fake: FakeBotApi, person: Person) -> None:
    sent = await onboard(fake, person, "sq")
    person.says(SAID)
    await fake.wait_sent(sent + 1, person.id)
    person.says(f"{WORDS[2]} {WORDS[0]}")
    await fake.wait_sent(sent + 2, person.id)
    await app.turns.wait_idle()


async def _erased(app: Homeward, fake: FakeBotApi, person: Person) -> None:
    """/delete, then confirm; returns once the erasure has committed."""
    person.says("/delete")
    await fake.wait_for(lambda: any("del:yes" in str(m) for m in fake.sent(chat_id=person.id)))
    person.presses("del:yes")
    await fake.wait_for(lambda: any("u fshinë" in t for t in fake.texts(person.id)))
    await app.turns.wait_idle()


ON_POSTGRESQL = bool(os.environ.get("HOMEWARD_TEST_DATABASE_URL"))
sqlite_only = pytest.mark.skipif(
    ON_POSTGRESQL, reason="SQLite's files are read here; PostgreSQL's are the server's (see the vacuum test)"
)
postgresql_only = pytest.mark.skipif(
    not ON_POSTGRESQL, reason="VACUUM after an erasure is PostgreSQL's; SQLite's files are scanned instead"
)


@sqlite_only
async def test_delete_leaves_no_byte_of_the_words_or_the_name_in_the_sqlite_files(
    homeward: Homeward, fake: FakeBotApi
) -> None:
    url = homeward.settings.database_url
    person = Person(fake, TELEGRAM_ID, NAME, "sq")
    await _talked(homeward, fake, person)
    assert set(SECRETS) <= {s for found in _found(url).values() for s in found}  # the scan sees them before
    await _erased(homeward, fake, person)
    await homeward.delivery.drain()
    await homeward.db.cleanup.wait()
    assert _found(url) == {}


@sqlite_only
async def test_retention_leaves_no_byte_of_the_words_or_the_name_in_the_sqlite_files(
    homeward: Homeward, fake: FakeBotApi
) -> None:
    url = homeward.settings.database_url
    person = Person(fake, TELEGRAM_ID, NAME, "sq")
    await _talked(homeward, fake, person)
    await homeward.delivery.drain()
    assert _found(url)
    report = await homeward.retention.run(datetime.now(UTC) + timedelta(days=800), dry_run=False)
    assert report["people"] == 1 and report["raw_updates"] > 0
    await homeward.db.cleanup.wait()
    assert _found(url) == {}


@postgresql_only
async def test_postgresql_vacuums_the_tables_an_erasure_touched_once_it_commits(
    homeward: Homeward, fake: FakeBotApi
) -> None:
    person = Person(fake, TELEGRAM_ID, NAME, "sq")
    await _talked(homeward, fake, person)
    async with homeward.db.sessions() as session:
        before = (await session.execute(text("SELECT now()"))).scalar_one()
    await _erased(homeward, fake, person)
    await homeward.db.cleanup.wait()
    async with homeward.db.sessions() as session:
        stats = text("SELECT relname, last_vacuum FROM pg_stat_user_tables WHERE schemaname = 'public'")
        rows = (await session.execute(stats)).all()
    vacuumed = {name for name, at in rows if at is not None and at >= before}
    assert {"messages", "inbox", "beneficiaries", "outbox", "kb_questions", "consents"} <= personal_tables()
    assert personal_tables() <= vacuumed, personal_tables() - vacuumed
