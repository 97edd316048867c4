"""Storing raw updates: idempotent on (channel, update id), committed before anything else happens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.clock import Clock
from db.models import InboxUpdate
from db.session import Database


def _store(insert: Any) -> Any:
    """The inbox's table itself, not its ORM entity: rows stored as they are, without the ORM's bulk insert."""
    inbox = cast(Table, InboxUpdate.__table__)
    return (
        insert(inbox)
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(inbox.c.chat_key, inbox.c.id)
    )


_STORE_SQLITE = _store(sqlite.insert)
_STORE_POSTGRESQL = _store(postgresql.insert)


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
    async with db.transaction() as session:
        stored = await session.execute(_STORE_SQLITE if db.is_sqlite else _STORE_POSTGRESQL, rows)
        new = sorted(((chat_key, inbox_id) for chat_key, inbox_id in stored.all()), key=lambda row: row[1])
        if len(new) == len(rows):
            return new  # all new (the usual case): no second look
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


class InboxWriter:
    """Stores updates that arrive one request at a time (webhooks) several to a commit.

    Each request waits until its update is committed (then Telegram may be answered); requests
    arriving while a commit is under way go into the next one. A failed commit fails every
    request in it, and Telegram sends those updates again.
    """

    def __init__(
        self,
        store: Callable[[list[tuple[int, str, str]]], Awaitable[list[tuple[str, int]]]],
        submit: Callable[[int], None],
    ) -> None:
        self._store = store
        self._submit = submit
        self._pending: list[tuple[tuple[int, str, str], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, update_id: int, chat: str, raw: str) -> None:
        done = asyncio.get_running_loop().create_future()
        self._pending.append(((update_id, chat, raw), done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        # Awaited as it is, not shielded (a shield costs a future and two callbacks a request): a
        # request cancelled meanwhile cancels only its own future; the writer commits it all the same
        # and settles only the futures still waiting.
        await done

    async def _write(self) -> None:
        await asyncio.sleep(0)  # let the requests already in hand join this commit
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._commit(batch)
            except BaseException:  # cancelled at shutdown: nobody is left waiting
                for _, done in batch:
                    if not done.done():
                        done.set_exception(RuntimeError("shutting down"))
                raise

    async def _commit(self, batch: list[tuple[tuple[int, str, str], asyncio.Future[None]]]) -> None:
        """Store the batch in one commit; if that fails, each update on its own, so one bad update fails alone."""
        try:
            stored = await self._store([update for update, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            for one in batch:
                await self._commit([one])
            return
        for _, inbox_id in stored:  # processed after the answers, in arrival order
            self._submit(inbox_id)
        for _, done in batch:
            if not done.done():
                done.set_result(None)
