"""The channels migration adds the app of each line without disturbing the transcript's search index."""

from __future__ import annotations

from sqlalchemy import text

from db.session import create_engine


async def test_the_search_index_still_follows_new_lines_after_the_channels_migration(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            triggers = set(found.scalars())
            assert {"messages_fts_insert", "messages_fts_delete", "messages_fts_update_new"} <= triggers
        else:
            found = await conn.execute(
                text(
                    "SELECT column_name, character_maximum_length FROM information_schema.columns "
                    "WHERE table_name = 'messages' "
                    "AND column_name IN ('search_vector', 'channel_message_id', 'channel')"
                )
            )
            columns = {name: length for name, length in found.all()}
            assert "search_vector" in columns and columns["channel_message_id"] == 128 and "channel" in columns
    await engine.dispose()
