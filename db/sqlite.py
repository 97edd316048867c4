"""SQLite driven from the event loop's own thread.

aiosqlite runs every call of a connection in a thread of its own: each statement is handed to
that thread and its result handed back through the event loop, two thread switches and a loop
wake-up for a statement that SQLite itself answers in microseconds. Homeward keeps a single
SQLite connection for the whole process (see `db.session`), so that thread never runs two
things at once anyway; it only adds the hand-offs, and they were most of the time of a turn.

`InlineConnection` keeps aiosqlite's interface, which SQLAlchemy's aiosqlite dialect drives,
and runs each call at once on the loop's thread. The loop is blocked for as long as SQLite
works: microseconds for a turn's statements, milliseconds for a console search over a large
transcript table. WAL mode with `synchronous=NORMAL` does not wait for the disk on commit. A
write that finds another process holding SQLite's write lock (a `homeward retention` run next
to `homeward serve`) waits up to `busy_timeout` (2 s) with the loop blocked, then fails and is
retried after an asynchronous pause, like a lost database connection; SQLite is the one-machine
default, and PostgreSQL is the way to run several processes. This relies on aiosqlite 0.22's
internals (its queue and `_execute`), so `pyproject.toml` pins that series.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url


class _RunNow:
    """Stands in for aiosqlite's queue to its thread: runs each queued call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to whoever awaits the call, as aiosqlite's thread does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(None if result is _STOP else result)


_STOP = aiosqlite.core._STOP_RUNNING_SENTINEL


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection without its thread: every call runs on the caller's thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return partial(fn, *args, **kwargs)()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Any:
        return self._connect().__await__()


def inline_creator(url: str) -> Callable[[], Any]:
    """The `async_creator` for `create_async_engine`: opens `url` as SQLAlchemy's dialect would."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))

    async def connect() -> InlineConnection:
        return await InlineConnection(partial(sqlite3.connect, *args, **kwargs))

    return connect
