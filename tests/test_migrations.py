"""The migrations build exactly the schema the models describe, on the database under test."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from db.migrate import upgrade_async
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


async def test_web_visitor_ids_kept_in_clear_are_removed_by_the_migration(tmp_path: Path) -> None:
    url = os.environ.get("HOMEWARD_TEST_DATABASE_URL")
    if url:
        own = make_url(url).set(database=f"{make_url(url).database}_m{os.getpid()}_{secrets.token_hex(3)}")
        target = own.render_as_string(hide_password=False)
        await _admin(url, f'CREATE DATABASE "{own.database}"')
    else:
        target = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    visitor = "Vx3kq9_Zt2LmNp8RwYc4HsJd6FgB1aE0"
    try:
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
    finally:
        if url:
            await _admin(url, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)')
