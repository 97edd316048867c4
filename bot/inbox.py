"""Storing raw updates: idempotent on (channel, update id), committed before anything else happens."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from bot.clock import Clock
from db.models import InboxUpdate
from db.session import Database


async def store_updates(
    db: Database, clock: Clock, channel: str, batch: list[tuple[int, str, str]]
) -> list[tuple[str, int]]:
    """Store (update id, chat key, raw JSON) rows; return (chat key, inbox id) of those still to process.

    A redelivered update hits the unique key and is not stored again; if its turn already ran,
    it is not returned, so it changes nothing.
    """
    if not batch:
        return []
    now = clock.now()
    rows = [
        {
            "channel": channel,
            "update_id": update_id,
            "chat_key": chat_key,
            "raw": raw.replace("\\u0000", "\\ufffd"),
            "status": "pending",
            "attempts": 0,
            "received_at": now,
        }
        for update_id, chat_key, raw in batch
    ]
    insert = sqlite.insert if db.is_sqlite else postgresql.insert
    async with db.transaction() as session:
        await session.execute(insert(InboxUpdate).on_conflict_do_nothing(index_elements=["channel", "update_id"]), rows)
        found = await session.execute(
            select(InboxUpdate.chat_key, InboxUpdate.id)
            .where(
                InboxUpdate.channel == channel,
                InboxUpdate.update_id.in_([r["update_id"] for r in rows]),
                InboxUpdate.status == "pending",
            )
            .order_by(InboxUpdate.id)
        )
        return [(chat_key, inbox_id) for chat_key, inbox_id in found.all()]
