"""Updates queued with `update_later`: written before whatever the transaction does next, and only with it.

A batch of turns marks its inbox rows done this way. The marks must be seen by the transaction's next
read, go with its rollback, and never be queued inside a savepoint, whose rollback could not take
them back: a row marked done without its turn would be a message lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy import Table, bindparam, select, update

from bot.app import Homeward
from bot.config import Settings
from db.models import InboxUpdate
from db.session import Database, update_later

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
INBOX = cast(Table, InboxUpdate.__table__)
MARK = update(INBOX).where(INBOX.c.id == bindparam("row_id"))


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Homeward]:
    """Homeward not started: nothing else reads or marks the rows these tests write."""
    homeward = Homeward(settings)
    yield homeward
    await homeward.stop()


@pytest.fixture
def db(app: Homeward) -> Database:
    return app.db


async def stored(db: Database, count: int) -> list[int]:
    rows = [
        InboxUpdate(
            channel="telegram",
            update_id=9_000 + n,
            chat_key=f"c{n}",
            raw=f'{{"n": {n}}}',
            status="pending",
            received_at=NOW,
        )
        for n in range(count)
    ]
    async with db.transaction() as session:
        session.add_all(rows)
    return [row.id for row in rows]


async def statuses(db: Database) -> dict[int, str]:
    async with db.sessions() as session:
        return {row.id: row.status for row in (await session.execute(select(INBOX.c.id, INBOX.c.status)))}


async def test_queued_updates_are_seen_by_the_next_read_and_written_at_commit(db: Database) -> None:
    first, second = await stored(db, 2)
    async with db.transaction() as session:
        for row_id in (first, second):
            update_later(session, MARK, {"row_id": row_id, "status": "done", "processed_at": NOW})
        seen = {row.id: row.status for row in await session.execute(select(INBOX.c.id, INBOX.c.status))}
        assert seen == {first: "done", second: "done"}
    assert await statuses(db) == {first: "done", second: "done"}


async def test_a_rolled_back_transaction_takes_its_queued_updates_with_it(db: Database) -> None:
    (row_id,) = await stored(db, 1)
    with pytest.raises(RuntimeError, match="turn failed"):
        async with db.transaction() as session:
            update_later(session, MARK, {"row_id": row_id, "status": "done", "processed_at": NOW})
            raise RuntimeError("turn failed")
    assert await statuses(db) == {row_id: "pending"}


async def test_updates_are_not_queued_inside_a_savepoint(db: Database) -> None:
    before, inside = await stored(db, 2)
    async with db.transaction() as session:
        update_later(session, MARK, {"row_id": before, "status": "done", "processed_at": NOW})
        with pytest.raises(RuntimeError, match="savepoint"):
            async with session.begin_nested():
                update_later(session, MARK, {"row_id": inside, "status": "done", "processed_at": NOW})
    # Queued before the savepoint: written as it began, and kept.
    assert await statuses(db) == {before: "done", inside: "pending"}
