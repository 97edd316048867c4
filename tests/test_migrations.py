"""The migrations build exactly the schema the models describe, on the database under test."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.text import fold
from db.migrate import alembic_config, upgrade_async
from db.models import Base
from db.search import include_name
from db.session import create_engine
from tests.conftest import _admin


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False, "include_name": include_name})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []


@asynccontextmanager
async def empty_database(tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database of its own, with no schema yet, on the database under test."""
    url = os.environ.get("HOMEWARD_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    own = make_url(url).set(database=f"{make_url(url).database}_m{os.getpid()}_{secrets.token_hex(3)}")
    await _admin(url, f'CREATE DATABASE "{own.database}"')
    try:
        yield own.render_as_string(hide_password=False)
    finally:
        await _admin(url, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)')


async def test_web_visitor_ids_kept_in_clear_are_removed_by_the_migration(tmp_path: Path) -> None:
    visitor = "Vx3kq9_Zt2LmNp8RwYc4HsJd6FgB1aE0"
    async with empty_database(tmp_path) as target:
        await upgrade_async(target, "0004")
        engine = create_engine(target)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO beneficiaries (channel, channel_ref, channel_user_id, chat_id, consent, opted_out,"
                    " blocked, created_at) VALUES ('web', 'ref-web', :v, :v, 'given', false, false, :now),"
                    " ('telegram', 'ref-tg', '5001', '5001', 'given', false, false, :now)"
                ),
                {"v": visitor, "now": datetime(2026, 11, 1)},
            )
            await conn.execute(
                text(
                    "INSERT INTO inbox (channel, update_id, chat_key, raw, status, attempts, received_at) VALUES"
                    " ('web', 1, 'k', :raw, 'done', 1, :now), ('telegram', 2, 'k2', '{}', 'done', 1, :now)"
                ),
                {"raw": f'{{"visitor": "{visitor}", "text": "hi"}}', "now": datetime(2026, 11, 1)},
            )
            await conn.execute(
                text(
                    "INSERT INTO outbox (channel, chat_id, method, payload, lane, status, attempts, next_attempt_at,"
                    " created_at) VALUES ('web', :v, 'sendMessage', '{}', 0, 'sent', 1, :now, :now)"
                ),
                {"v": visitor, "now": datetime(2026, 11, 1)},
            )
        await engine.dispose()
        await upgrade_async(target)
        engine = create_engine(target)
        async with engine.connect() as conn:
            rows = [
                *(await conn.execute(text("SELECT channel_user_id, chat_id, channel_ref FROM beneficiaries"))).all(),
                *(await conn.execute(text("SELECT raw FROM inbox"))).all(),
                *(await conn.execute(text("SELECT chat_id FROM outbox"))).all(),
            ]
            telegram = (
                await conn.execute(text("SELECT chat_id FROM beneficiaries WHERE channel = 'telegram'"))
            ).scalar_one()
        await engine.dispose()
        assert not any(visitor in str(row) for row in rows) and ("ref-web",) in [r[2:] for r in rows[:2]]
        assert telegram == "5001"


async def _found(conn: AsyncConnection, word: str) -> set[int]:
    """The lines the search index finds `word` in (SQLite's FTS5 table, PostgreSQL's search vector)."""
    if conn.dialect.name == "sqlite":
        query = "SELECT rowid FROM messages_fts WHERE messages_fts MATCH :word"
    else:
        query = "SELECT id FROM messages WHERE search_vector @@ to_tsquery('simple', :word)"
    return set((await conn.execute(text(query), {"word": word})).scalars())


async def test_the_bots_own_lines_leave_the_search_index_and_peoples_stay(tmp_path: Path) -> None:
    lines = [  # (id, author, text): the bot's answer, the person's question, a caseworker's reply
        (1, "bot", "Pasaporta merret në zyrën e gjendjes civile."),
        (2, "person", "Ku merret pasaporta?"),
        (3, "staff:amra", "Pasaporta: ejani nesër në zyrë."),
        (4, "bot", ""),  # an empty line: nothing to fold again on the way back
        (20_004, "bot", "Gjendja civile, një varg tjetër i numrave."),  # in the next range of ids
    ]
    async with empty_database(tmp_path) as target:
        await upgrade_async(target, "0020")
        engine = create_engine(target)
        async with engine.begin() as conn:
            now = {"now": datetime(2026, 11, 1)}
            await conn.execute(
                text(
                    "INSERT INTO beneficiaries (id, channel, channel_ref, consent, opted_out, blocked, created_at)"
                    " VALUES (1, 'telegram', 'ref', 'given', false, false, :now)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO conversations (id, beneficiary_id, mode, state, labels, urgent, needs_human, status,"
                    " created_at, updated_at) VALUES (1, 1, 'bot', '{}', '[]', false, false, 'open', :now, :now)"
                ),
                now,
            )
            for line, author, said in lines:
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, conversation_id, direction, author, kind, text, norm_text, status,"
                        " created_at) VALUES (:id, 1, :direction, :author, 'text', :text, :folded, 'sent', :now)"
                    ),
                    {
                        "id": line,
                        "direction": "in" if author == "person" else "out",
                        "author": author,
                        "text": said,
                        "folded": fold(said),
                        **now,
                    },
                )
            assert await _found(conn, "pasaporta") == {1, 2, 3} and await _found(conn, "civile") == {1, 20_004}
        await engine.dispose()
        await upgrade_async(target)
        engine = create_engine(target)
        async with engine.connect() as conn:
            searched = await _found(conn, "pasaporta"), await _found(conn, "civile")
            kept = (await conn.execute(text("SELECT text FROM messages WHERE id = 1"))).scalar_one()
        await engine.dispose()
        assert searched == ({2, 3}, set())
        assert kept == lines[0][2]  # the transcript itself is untouched
        await asyncio.to_thread(command.downgrade, alembic_config(target), "0020")
        engine = create_engine(target)
        async with engine.connect() as conn:
            back = await _found(conn, "pasaporta"), await _found(conn, "civile")
        await engine.dispose()
        assert back == ({1, 2, 3}, {1, 20_004})  # downgraded, the bot's lines are searchable again
