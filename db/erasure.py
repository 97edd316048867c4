"""What an erasure leaves in the database files, removed once it commits.

Deleting a person's rows (`/delete`, retention) is not the end of their words on disk:

- SQLite: a deleted row's bytes stay in its page, and a freed page keeps its old content, unless
  `secure_delete` is on; every connection turns it on (`db.session`). The FTS5 search index
  (external content over `messages.norm_text`) records a deletion as a new entry and keeps the
  old segment, terms included, until segments are merged: after an erasure the segments are
  merged down to one (`merge` with a negative argument, then until nothing is left to merge), a
  few hundred pages at a time so that turns and requests run in between. The write-ahead log keeps
  the page images of every write until they are overwritten: `wal_checkpoint(TRUNCATE)` copies the
  pages back and cuts the `-wal` file to zero bytes.
- PostgreSQL: a deleted or updated row stays in its page as a dead tuple, and index entries
  (the GIN search index among them) point at it, until VACUUM removes them; autovacuum would only
  come once a fifth of a table has changed, which the erasure of one person never reaches. So the
  tables an erasure touched are vacuumed once it commits (outside a transaction, as VACUUM must).
  The GIN search index keeps a word as a key with an empty list of rows after VACUUM; only a
  rebuild of the index (`REINDEX`) drops such keys (see the README).

The erasure marks what it touched on its session (`touched`); `Database.transaction` hands the
tables to the database's `Cleanup` after the commit, which runs in the background (a failure is
logged, never raised into the turn that erased) and is awaited when the database is disposed.
The erasure's own confirmation is still queued when it commits, with the person's chat id, and is
blanked once sent: the cleaning first waits (a little while at most) for the erased people's
queued messages to be sent, so the cleaned files do not keep that either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from db.models import Base, OutboxItem
from db.search import FTS_TABLE

log = logging.getLogger(__name__)

TOUCHED = "erasure.touched"  # session.info key: names of the tables an erasure changed in this transaction
PEOPLE = "erasure.people"  # session.info key: ids of the people erased in this transaction
OUTBOX_WAIT_SECONDS = 30.0  # how long cleaning waits for an erased person's last messages to be sent
MERGE_PAGES = 200  # FTS5 pages written per merge step (about 0.8 MB, a few tens of milliseconds)
MERGE_STEPS = 50_000  # a bound for a merge that new writes keep feeding (10 million pages, far past any index)
CHECKPOINT_TRIES = 20  # another process reading the database holds a truncating checkpoint off; try again


def personal_tables() -> set[str]:
    """Tables that hold rows about a person: theirs by a key to a person or a conversation, and the raw updates."""
    names = {"beneficiaries", "conversations", "inbox"}
    for table in Base.metadata.sorted_tables:
        if any(fk.column.table.name in ("beneficiaries", "conversations") for fk in table.foreign_keys):
            names.add(table.name)
    return names


def touched(session: AsyncSession, tables: Iterable[str], people: Iterable[int] = ()) -> None:
    """Record that this transaction erased rows of `tables`, and whom: once it commits, they are cleaned on disk."""
    session.info.setdefault(TOUCHED, set()).update(tables)
    session.info.setdefault(PEOPLE, set()).update(people)


@asynccontextmanager
async def _autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


async def _sqlite(engine: AsyncEngine, tables: set[str]) -> None:
    if "messages" in tables:
        argument = -MERGE_PAGES  # negative: every segment joins one merge, whatever its level
        for _ in range(MERGE_STEPS):
            async with _autocommit(engine) as conn:
                found = await conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = :t"), {"t": FTS_TABLE})
                if found.first() is None:
                    break
                before = (await conn.execute(text("SELECT total_changes()"))).scalar_one()
                await conn.execute(
                    text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('merge', :pages)"), {"pages": argument}
                )
                after = (await conn.execute(text("SELECT total_changes()"))).scalar_one()
            if after - before < 2:  # FTS5's own sign that the merge found nothing left to do
                break
            argument = MERGE_PAGES
            await asyncio.sleep(0)
    for attempt in range(CHECKPOINT_TRIES):
        async with _autocommit(engine) as conn:
            busy, _, _ = (await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).one()
        if not busy:
            return
        await asyncio.sleep(0.05 * (attempt + 1))
    log.warning("the write-ahead log could not be truncated after an erasure: another process kept reading")


async def _postgresql(engine: AsyncEngine, tables: set[str]) -> None:
    quote = engine.dialect.identifier_preparer.quote
    async with _autocommit(engine) as conn:
        # INDEX_CLEANUP ON: with only a few dead rows VACUUM would otherwise skip the indexes.
        await conn.execute(text("VACUUM (INDEX_CLEANUP ON) " + ", ".join(quote(name) for name in sorted(tables))))


async def clean(engine: AsyncEngine, tables: set[str]) -> None:
    """Remove from the database files what is left of rows erased from `tables`."""
    if engine.dialect.name == "sqlite":
        await _sqlite(engine, tables)
    else:
        await _postgresql(engine, tables)


class Cleanup:
    """Cleaning after erasures, one pass at a time in the background; erasures meanwhile join the next pass."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._waiting: set[str] = set()
        self._people: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def after_commit(self, tables: set[str], people: set[int] | None = None) -> None:
        self._waiting |= tables
        self._people |= people or set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="erasure cleanup")

    async def _sent(self, people: set[int]) -> None:
        """Until the erased people's queued messages are sent or given up (or the wait is over)."""
        deadline = asyncio.get_running_loop().time() + OUTBOX_WAIT_SECONDS
        queued = (
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.beneficiary_id.in_(people), OutboxItem.status.in_(("pending", "sending")))
        )
        while not self._closing and asyncio.get_running_loop().time() < deadline:
            async with self.engine.connect() as conn:
                if not (await conn.execute(queued)).scalar_one():
                    return
            await asyncio.sleep(0.1)

    async def _run(self) -> None:
        while self._waiting:
            tables, self._waiting = self._waiting, set()
            people, self._people = self._people, set()
            try:
                if people:
                    await self._sent(people)
                await clean(self.engine, tables)
            except Exception as exc:  # the erasure itself committed; the next erasure or retention run cleans again
                log.warning("cleaning the database files after an erasure failed", extra={"error": type(exc).__name__})

    async def wait(self, *, closing: bool = False) -> None:
        """Until every erasure committed so far is cleaned on disk; `closing`: without waiting for sends."""
        self._closing = self._closing or closing
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
