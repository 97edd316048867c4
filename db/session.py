"""Engine and session factory: one place that knows how to open SQLite or PostgreSQL.

SQLite runs in WAL mode behind a single pooled connection, so every transaction of the
process is serialised without "database is locked" errors; one process on SQLite serves a
small mission. PostgreSQL gets an ordinary pool and is how Homeward scales out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from sqlalchemy import Select, event, false, func, insert, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from db import jsontext
from db.encryption import Keyring, attach
from db.erasure import PEOPLE, TOUCHED, Cleanup
from db.models import Base
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


RACE_STATES = frozenset({"40P01", "40001"})  # PostgreSQL: deadlock detected, serialization failure


def lost_a_race(exc: BaseException) -> bool:
    """The database chose this transaction as the loser of a lock race (it rolled back): run it again."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RACE_STATES


async def first_in_line(session: AsyncSession, name: str) -> bool:
    """On PostgreSQL, whether this transaction holds the lock called `name` (until it ends); another
    process holding it means that process is doing this work now. SQLite serves one process: always."""
    if session.get_bind().dialect.name == "sqlite":
        return True
    taken = await session.execute(select(func.pg_try_advisory_xact_lock(func.hashtextextended(name, 0))))
    return bool(taken.scalar_one())


class _Pending(ABC):
    """Writes a transaction holds back until its next statement (`do_orm_execute`), flush, savepoint
    or commit, then makes on its own connection (`Appends`, `Deferred`). Each kind is kept in
    `session.info[KEY]` for the transaction it began in; one set of listeners serves all kinds.
    If writing fails, the transaction can only roll back; its commit raises."""

    KEY = ""
    WHAT = ""

    def __init__(self, transaction: Any) -> None:
        self.transaction = transaction  # the session's outermost transaction: rolled back, its writes go with it
        self._rows: dict[Any, Any] = {}
        self.broken = False

    def write(self, session: Session) -> None:
        """Write what is held, on the session's connection (never inside a savepoint)."""
        if self.broken:
            raise RuntimeError(f"{self.WHAT} could not be written; this transaction can only roll back")
        if self._rows and not session.in_nested_transaction():  # written when the savepoint began
            self.write_on(session.connection())

    def write_on(self, connection: Connection) -> None:
        rows, self._rows = self._rows, {}
        try:
            self._execute(connection, rows)
        except BaseException:
            self.broken = True
            raise

    @abstractmethod
    def _execute(self, connection: Connection, rows: dict[Any, Any]) -> None:
        """Write `rows` (this kind's held writes) on `connection`."""

    def before_flush(self, session: Session) -> None:
        self.write(session)

    def hold(self, session: Session) -> None:
        """Make this the session's held writes of its kind, for the transaction it was made in."""
        session.info[self.KEY] = self
        if not session.info.get("pending_listening"):
            session.info["pending_listening"] = True
            event.listen(session, "before_flush", _before_flush)
            event.listen(session, "do_orm_execute", _before_statement)
            event.listen(session, "after_transaction_create", _before_savepoint)
            event.listen(session, "before_commit", _before_commit)


def _pending(session: Session) -> list[_Pending]:
    """The held writes of the session's transaction in progress, appended rows first (those of an
    earlier transaction are over)."""
    transaction = session.get_transaction()
    found = (session.info.get(kind.KEY) for kind in (Appends, Deferred))
    return [held for held in found if held is not None and held.transaction is transaction]


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for held in _pending(session):
        held.before_flush(session)


def _before_savepoint(session: Session, transaction: SessionTransaction) -> None:
    """Held writes go in before a savepoint begins (on the enclosing transaction's connection)."""
    if transaction.nested and transaction.parent is not None:
        for held in _pending(session):
            if held._rows:  # the savepoint itself is emitted later, when its first statement needs it
                held.write_on(transaction.parent.connection(None))


def _before_statement(state: ORMExecuteState) -> None:
    for held in _pending(state.session):
        held.write(state.session)


def _before_commit(session: Session) -> None:
    for held in _pending(session):
        held.write(session)


class Appends(_Pending):
    """Rows a transaction only adds (transcript lines, outbox rows, questions), written together.

    A turn adds a few such rows and never changes them again. Building ORM objects for them and
    letting the unit of work flush them cost more than the rest of a turn's writing; instead each
    row is kept as a plain dict with its primary key handed out at once (a reply's outbox row
    points at its transcript line, a question's id rides on the answer's buttons), and each
    table's rows are written in one statement per shape, parents first: before the session's next
    statement (`do_orm_execute`), flush, savepoint or commit. What bypasses the session, such as
    `session.connection().execute(...)`, does not see rows not yet written. Rows are not appended
    while a savepoint is open (that raises): a savepoint rolled back could not take them along.
    If writing them fails, the transaction can only roll back; its commit raises.

    Primary keys come from the database's own counter. PostgreSQL: the table's sequence, a block
    at a time (16, then doubling up to 512; ids not used are skipped, as after any rollback, so the
    sequences advance faster than rows are added). SQLite: the largest id plus one, which SQLite
    itself would give; the first append takes SQLite's write lock with a write that changes nothing,
    so no other process adds a row until this transaction ends. Rows of these tables that the
    session adds as ORM objects get their ids from the same count (`before_flush`). Ids are handed
    out when a row is appended, so on PostgreSQL a transaction that commits later than another can
    hold lower ids, as it could when ids were taken at the flush.
    """

    BLOCK = 16  # ids first reserved per table on PostgreSQL; doubled each time, up to 512

    KEY = "appends"
    WHAT = "appended rows"

    def __init__(self, sqlite: bool, transaction: Any) -> None:
        super().__init__(transaction)
        self.sqlite = sqlite
        self._next: dict[Any, int] = {}  # SQLite: model -> next id
        self._free: dict[Any, deque[int]] = {}  # PostgreSQL: model -> ids reserved and not yet used
        self._block: dict[Any, int] = {}
        self._rows: dict[Any, list[dict[str, Any]]] = {}

    @classmethod
    async def of(cls, session: AsyncSession, model: Any) -> Appends:
        """The transaction's appends, begun on first use (on SQLite, locking with a write to `model`'s table)."""
        appends = _current(session.sync_session)
        if appends is None:
            sqlite = session.get_bind().dialect.name == "sqlite"
            if sqlite:
                table = model.__table__
                with session.no_autoflush:  # the turn's changed rows are flushed once, at its end
                    await session.execute(update(table).where(false()).values(id=table.c.id))  # SQLite's write lock
            sync = session.sync_session
            if not sync.in_transaction():
                sync.begin()  # no I/O: the connection is taken at the next statement
            appends = cls(sqlite, sync.get_transaction())
            appends.hold(sync)
        return appends

    async def add(self, session: AsyncSession, model: Any, values: dict[str, Any]) -> int:
        if session.in_nested_transaction():
            raise RuntimeError("rows are not appended inside a savepoint; append them before it or after it")
        if self.sqlite:
            if model not in self._next:  # under the write lock: nobody else adds a row before this transaction ends
                table = model.__table__
                with session.no_autoflush:  # ORM rows not yet flushed get their ids from this count (`assign`)
                    self._next[model] = ((await session.execute(select(func.max(table.c.id)))).scalar() or 0) + 1
            row_id = self._next[model]
            self._next[model] += 1
        else:
            free = self._free.setdefault(model, deque())
            if not free:
                free.extend(await self._reserve(session, model))
            row_id = free.popleft()
        self._rows.setdefault(model, []).append({"id": row_id, **values})
        return row_id

    async def _reserve(self, session: AsyncSession, model: Any) -> list[int]:
        with session.no_autoflush:
            return sorted((await session.execute(self._block_of(model))).scalars().all())

    def _block_of(self, model: Any) -> Select[Any]:
        """PostgreSQL: the statement that takes the next block of ids from `model`'s sequence."""
        size = min(self._block.get(model, self.BLOCK // 2) * 2, 512)
        self._block[model] = size
        sequence = func.pg_get_serial_sequence(model.__table__.name, "id")
        return select(func.nextval(sequence)).select_from(func.generate_series(1, size))

    def _execute(self, connection: Connection, rows: dict[Any, Any]) -> None:
        for model in sorted(rows, key=lambda m: _table_order()[m.__table__]):
            shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows[model]:
                shapes.setdefault(tuple(row), []).append(row)
            for same in shapes.values():
                connection.execute(_insert(model.__table__), same)

    def before_flush(self, session: Session) -> None:
        self.assign(session)
        self.write(session)  # ORM rows being flushed may point at appended ones

    def assign(self, session: Session) -> None:
        """ORM rows of a table this transaction appends to get their ids from the same count, in order."""
        for instance in session.new:
            model = type(instance)
            if model not in (self._next if self.sqlite else self._free) or instance.id is not None:
                continue
            if self.sqlite:
                instance.id = self._next[model]
                self._next[model] += 1
            else:
                free = self._free[model]
                if not free:
                    free.extend(sorted(session.connection().execute(self._block_of(model)).scalars().all()))
                instance.id = free.popleft()


@cache
def _insert(table: Any) -> Any:
    return insert(table)


@cache
def _table_order() -> dict[Any, int]:
    """Tables in the order rows can be written: a row's parents first."""
    return {table: n for n, table in enumerate(Base.metadata.sorted_tables)}


def _current(session: Session) -> Appends | None:
    """The appends of the session's transaction in progress (those of an earlier one are over)."""
    appends: Appends | None = session.info.get("appends")
    if appends is None or appends.transaction is not session.get_transaction():
        return None
    return appends


async def append(session: AsyncSession, model: Any, values: dict[str, Any]) -> int:
    """Add a row of `model` that this transaction will not change again; returns its id at once (`Appends`).

    `values` should name the same columns each time for one kind of row: rows of one shape are
    written in one statement.
    """
    return await (await Appends.of(session, model)).add(session, model, values)


class Deferred(_Pending):
    """Updates by primary key that a transaction writes together, one statement per shape.

    A batch of turns marks each of its inbox rows done; as ORM objects, loading them and letting
    the unit of work compare and write them cost more than the rows are worth. Each update is kept
    as a plain dict instead and written, with the others of its statement and columns, before the
    session's next statement (`do_orm_execute`), flush, savepoint or commit: whatever the
    transaction reads or changes next sees it written, as after the ORM's autoflush. If writing
    fails, the transaction can only roll back; its commit raises.
    """

    KEY = "deferred"
    WHAT = "deferred updates"

    @classmethod
    def of(cls, session: Session) -> Deferred:
        deferred: Deferred | None = session.info.get(cls.KEY)
        if deferred is None or deferred.transaction is not session.get_transaction():
            if not session.in_transaction():
                session.begin()  # no I/O: the connection is taken at the next statement
            deferred = cls(session.get_transaction())
            deferred.hold(session)
        return deferred

    def add(self, statement: Any, values: dict[str, Any]) -> None:
        self._rows.setdefault((statement, tuple(values)), []).append(values)

    def _execute(self, connection: Connection, rows: dict[Any, Any]) -> None:
        for (statement, _), same in rows.items():
            connection.execute(statement, same)


def update_later(session: AsyncSession, statement: Any, values: dict[str, Any]) -> None:
    """Queue `statement` (an UPDATE by primary key) with `values`, written with others before the
    session's next statement, flush, savepoint or commit (`Deferred`). Name the same columns each time
    for one kind of update: those of one shape are written in one statement. Not inside a savepoint:
    its rollback could not take the update back."""
    if session.in_nested_transaction():
        raise RuntimeError("updates are not queued inside a savepoint; queue them before it or after it")
    Deferred.of(session.sync_session).add(statement, values)


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
            json_serializer=jsontext.dumps,
            json_deserializer=jsontext.loads,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=2000")  # waited with the loop blocked: short, then retried
            cursor.execute("PRAGMA secure_delete=ON")  # deleted rows and freed pages are zeroed (db.erasure)
            # 32 MiB of pages kept (the default is 2): the inbox's indexes of 100,000 conversations stay in memory.
            cursor.execute("PRAGMA cache_size=-32768")
            cursor.close()

        # Rows added together go in as one multi-row INSERT per batch instead of one execution per row:
        # SQLite then opens one statement savepoint for the batch, not one per row, and each savepoint
        # made FTS5 (fed by the transcript's insert trigger) write out what it had gathered.
        # Measured on a batch of 64 turns: writing an inbound line and its index cost half as much.
        engine.sync_engine.dialect.use_insertmanyvalues_wo_returning = True
        return engine
    # PostgreSQL compiles a query to machine code (JIT) once its estimated cost passes jit_above_cost.
    # Homeward's queries are short and read indexes; compiling one took about 20 ms, longer than the
    # query itself (the inbox's counts over a third of 100,000 people: 73 ms with it, see the README).
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        hide_parameters=True,
        json_serializer=jsontext.dumps,
        json_deserializer=jsontext.loads,
        connect_args={"server_settings": {"jit": "off"}},
    )


class Database:
    """The engine and its session factory; sessions are opened per turn or per request."""

    def __init__(self, url: str, *, echo: bool = False, keyring: Keyring | None = None) -> None:
        self.url = url
        self._sqlite = is_sqlite(url)  # asked on every turn, claim and record: the URL is parsed once
        self.engine = create_engine(url, echo=echo)
        if keyring is not None:
            attach(self.engine.sync_engine.dialect, keyring)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.cleanup = Cleanup(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self._sqlite

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together on exit, or rolls back on an exception.

        After the commit of an erasure, what it leaves in the database files is cleaned (`db.erasure`).
        """
        async with self.sessions() as session:
            try:
                async with session.begin():
                    yield session
                erased, people = session.info.pop(TOUCHED, None), session.info.pop(PEOPLE, None)
            finally:
                # A session is held in reference cycles (its transaction, its listeners): what hangs on
                # it would wait for the garbage collector. A batch of turns keeps its people,
                # conversations and decoded updates here; let go, they are freed at once.
                session.info.clear()
        if erased:
            self.cleanup.after_commit(erased, people)

    async def dispose(self) -> None:
        await self.cleanup.wait(closing=True)
        await self.engine.dispose()
