"""Engine and session factory: one place that knows how to open SQLite or PostgreSQL.

SQLite runs in WAL mode behind a single pooled connection, so every transaction of the
process is serialised without "database is locked" errors; one process on SQLite serves a
small mission. PostgreSQL gets an ordinary pool and is how Homeward scales out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from db.encryption import Keyring, attach
from db.sqlite import inline_creator


def database_away(exc: BaseException) -> bool:
    """The connection was lost or left unusable (server restarted, connection terminated): retry the work.

    A connection terminated in the middle of a statement can also surface as the driver's internal
    or interface error on the next statement, before the pool has noticed and replaced it.
    """
    if isinstance(exc, DBAPIError):
        lost = OperationalError | InterfaceError | InternalError
        return bool(exc.connection_invalidated) or isinstance(exc, lost)
    return isinstance(exc, ConnectionError)


async def first_in_line(session: AsyncSession, name: str) -> bool:
    """On PostgreSQL, whether this transaction holds the lock called `name` (until it ends); another
    process holding it means that process is doing this work now. SQLite serves one process: always."""
    if session.get_bind().dialect.name == "sqlite":
        return True
    taken = await session.execute(select(func.pg_try_advisory_xact_lock(func.hashtextextended(name, 0))))
    return bool(taken.scalar_one())


class IdsAhead:
    """Primary keys handed out before the rows are written, for a batch of turns on SQLite.

    Only the process that serves an SQLite database writes these tables, one transaction at a
    time, so the next id is the largest so far plus one. Every new row of these tables gets its id
    just before a flush (or earlier, from `next`, when a turn needs it at once), so the rows are
    written together without reading each id back. Were an id ever taken after all, the insert
    fails and the batch's turns run again one by one, without ids ahead.
    """

    def __init__(self, last: dict[Any, int]) -> None:
        self._last = last

    @classmethod
    async def start(cls, session: AsyncSession, models: list[Any]) -> IdsAhead:
        last = {}
        with session.no_autoflush:
            for model in models:
                last[model] = (await session.execute(select(func.max(model.id)))).scalar() or 0
        ahead = cls(last)
        session.info["ids_ahead"] = ahead
        event.listen(session.sync_session, "before_flush", ahead._before_flush)
        return ahead

    def next(self, model: Any) -> int:
        self._last[model] += 1
        return self._last[model]

    def _before_flush(self, session: Any, _context: Any, _instances: Any) -> None:
        for instance in session.new:
            model = type(instance)
            if model in self._last and instance.id is None:
                instance.id = self.next(model)


async def add_for_id(session: AsyncSession, model: Any, values: dict[str, Any]) -> int:
    """Add a row of `model` and return its id at once, leaving the session's other changes pending.

    In a batch of turns on SQLite the id is handed out ahead (`IdsAhead`) and the row is written
    with the batch; otherwise the row alone is inserted now and its id read back.
    """
    ahead: IdsAhead | None = session.info.get("ids_ahead")
    if ahead is not None:
        row = model(id=ahead.next(model), **values)
        session.add(row)
        return int(row.id)
    table = model.__table__
    with session.no_autoflush:  # this insert needs nothing else of the session written first
        return int((await session.execute(insert(table).returning(table.c.id), values)).scalar_one())


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `url`, tuned for the backend.

    Statement parameters are hidden from errors, so a failed query never carries what a person
    wrote into a log.
    """
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=1,
            max_overflow=0,
            pool_timeout=120,
            hide_parameters=True,
            async_creator=inline_creator(url),
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=2000")  # waited with the loop blocked: short, then retried
            cursor.close()

        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True)


class Database:
    """The engine and its session factory; sessions are opened per turn or per request."""

    def __init__(self, url: str, *, echo: bool = False, keyring: Keyring | None = None) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        if keyring is not None:
            attach(self.engine.sync_engine.dialect, keyring)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together on exit, or rolls back on an exception."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
