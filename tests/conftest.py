"""Fixtures: a fresh database per test (SQLite by default, PostgreSQL with HOMEWARD_TEST_DATABASE_URL),
the fake Bot API server, and a running Homeward wired to both."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import db.broadcasts
import db.integrations
import db.staff
import db.youth  # noqa: F401  (the youth programme's tables, likewise)
from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from db.migrate import upgrade
from db.models import Base
from db.session import create_engine
from tests.fakebot import TOKEN, FakeBotApi, Person

SHARED = Path(__file__).resolve().parents[2] / "shared"

# Apps under test rank knowledge-base questions lexically, the same from the first turn to the last;
# the hybrid ranking has its own tests (tests/test_kb_hybrid.py).
os.environ.setdefault("HOMEWARD_KB_EMBEDDINGS", "0")


def pytest_report_header() -> str:
    return f"database: {os.environ.get('HOMEWARD_TEST_DATABASE_URL', 'sqlite (a file per test)')}"


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The schema, built once per run by the real migrations: a SQLite file to copy, or a PostgreSQL database.

    On PostgreSQL each run gets its own database next to the given one, so runs never disturb each other.
    """
    url = os.environ.get("HOMEWARD_TEST_DATABASE_URL")
    if url:
        own = make_url(url).set(database=f"{make_url(url).database}_{os.getpid()}_{secrets.token_hex(3)}")
        own_url = own.render_as_string(hide_password=False)
        asyncio.run(_admin(url, f'CREATE DATABASE "{own.database}"'))
        upgrade(own_url)
        yield own_url
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)'))
        return
    path = tmp_path_factory.mktemp("template") / "homeward.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    yield str(path)


async def fresh_database(migrated_template: str, directory: Path) -> str:
    """The run's PostgreSQL database emptied, or a copy of the SQLite template in `directory`."""
    if os.environ.get("HOMEWARD_TEST_DATABASE_URL"):
        engine = create_engine(migrated_template)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        return migrated_template
    path = directory / "homeward.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def database_url(migrated_template: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database for each test."""
    yield await fresh_database(migrated_template, tmp_path)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi().start()
    yield api
    await api.stop()


@pytest.fixture
def settings(database_url: str, fake: FakeBotApi, tmp_path: Path) -> Settings:
    return settings_for(database_url, fake, tmp_path)


def settings_for(database_url: str, fake: FakeBotApi, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        telegram_token=TOKEN,
        telegram_api_base=fake.base,
        secret_key="test-secret-key",
        data_dir=tmp_path / "data",
        poll_timeout_seconds=1,
        # Conversations in tests run at machine speed; pacing has its own tests.
        rate_chat_per_second=50.0,
        rate_chat_burst=10,
        retry_first_seconds=0.05,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def homeward(settings: Settings) -> AsyncIterator[Homeward]:
    app = Homeward(settings)
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
def start_at() -> datetime:
    """When a `clocked` test begins; a module overrides it for the season its story needs."""
    return datetime(2026, 5, 10, 11, 0, tzinfo=UTC)


@pytest.fixture
async def clocked(settings: Settings, start_at: datetime) -> AsyncIterator[tuple[Homeward, FixedClock]]:
    """A running Homeward on a clock the test moves (schedules, reminders, deadlines)."""
    clock = FixedClock(start_at)
    app = Homeward(settings, clock=clock)
    await app.start()
    yield app, clock
    await app.stop()


@pytest.fixture
def person(fake: FakeBotApi) -> Person:
    return Person(fake, 5001, "Arta", language_code="sq")
