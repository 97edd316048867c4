"""Server-sent events: open pages learn about new messages without reloading.

A stream looks for changes when its bell rings (delivery, or a committed turn of the chat page's
visitor) or every `interval` seconds (other processes may have written), and ends after `lifetime`;
the browser's EventSource reconnects by itself, so no stream outlives a restart for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, select

from bot.channels.webchat import Bell as PageBell
from db.models import Conversation, Message

HEARTBEAT = 10.0
IDLE_STOP = 5.0  # seconds the feed keeps looking after the last page left
COALESCE = 0.05
LOOK_LIMIT = 5000
LOOK_BACK = 200  # message ids looked at again, for transactions that committed out of id order
SLOW_LOOK = 5.0  # a page's own look, for what the feed cannot see (read marks and changes elsewhere)
log = logging.getLogger(__name__)
Tick = Callable[[], Awaitable[list[tuple[str, Any]]]]


class Bell(Protocol):
    async def wait(self, seconds: float) -> object: ...


def event(name: str, data: Any) -> bytes:
    payload = json.dumps(data, ensure_ascii=False)
    return f"event: {name}\ndata: {payload}\n\n".encode()


async def stream(
    tick: Tick, doorbell: Bell, *, interval: float | Callable[[], float] = 1.0, lifetime: float = 300.0
) -> AsyncIterator[bytes]:
    """Events from `tick` until `lifetime` passes; a closed connection ends it at the next write."""
    yield b"retry: 1500\n\n"
    ends = time.monotonic() + lifetime
    quiet_since = time.monotonic()
    while time.monotonic() < ends:
        for name, data in await tick():
            yield event(name, data)
            quiet_since = time.monotonic()
        if time.monotonic() - quiet_since > HEARTBEAT:
            yield b": ping\n\n"  # writing is how a closed connection is noticed
            quiet_since = time.monotonic()
        await doorbell.wait(interval() if callable(interval) else interval)
    yield b": reconnect\n\n"


class Feed:
    """What changed, found by one look for every open page of this process, instead of one per page.

    Fifty caseworkers keep about a hundred streams open; each used to query the database on every
    ring and every second. The feed looks once — new messages (by id), conversations changed (by
    `updated_at`), which of them wait for a caseworker — when the process's bell rings (a turn
    committed, a send recorded: `Homeward.change_listeners`) and every `interval` seconds for what other
    processes wrote, and rings only the pages a change concerns: a conversation's page when it has
    a new message, every alerts stream when a waiting conversation changed, every inbox when any
    conversation did. It runs while a page listens and stops a few seconds after the last one left.
    """

    def __init__(self, db: Any, change_listeners: list[Callable[[], None]], *, interval: float = 1.0) -> None:
        self.db = db
        self.interval = interval
        self._wake = PageBell()  # kept while the feed looks: a commit during a look is looked at next
        change_listeners.append(self._wake.ring)
        self._latest: datetime | None = None  # the newest conversations.updated_at seen
        self._last_message: int | None = None
        self._recent: set[int] = set()  # ids of the last LOOK_BACK seen (`look`)
        self._waiting: set[int] | None = None  # conversations waiting for a caseworker
        self._bells: dict[Hashable, set[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self.looks = 0

    @contextlib.contextmanager
    def listen(self, *keys: Hashable) -> Iterator[Any]:
        """A bell rung when something under one of `keys` changed: ("conversation", id), "alerts", "inbox"."""
        bell = PageBell()
        for key in keys:
            self._bells.setdefault(key, set()).add(bell)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            yield bell
        finally:
            for key in keys:
                listeners = self._bells.get(key)
                if listeners is not None:
                    listeners.discard(bell)
                    if not listeners:
                        del self._bells[key]

    def ring(self, *keys: Hashable) -> None:
        for key in keys:
            for bell in self._bells.get(key, ()):
                bell.ring()

    async def _run(self) -> None:
        idle_since: float | None = None
        while True:
            if not self._bells:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > IDLE_STOP:
                    self._last_message = None  # the next listener starts from a fresh first look
                    return
            else:
                idle_since = None
                try:
                    await self.look()
                except Exception:  # a database hiccup: pages keep their own slow look meanwhile
                    log.warning("the live feed could not look for changes", exc_info=True)
            await self._wake.wait(self.interval)
            await asyncio.sleep(COALESCE)  # a burst of commits is looked at once

    async def look(self) -> None:
        self.looks += 1
        async with self.db.sessions() as session:
            if self._last_message is None:
                self._last_message = (await session.execute(select(func.max(Message.id)))).scalar_one() or 0
                behind = select(Message.id).where(Message.id > self._last_message - LOOK_BACK)
                self._recent = set((await session.execute(behind)).scalars())
                query = select(Conversation.id).where(Conversation.needs_human.is_(True))
                self._waiting = set((await session.execute(query)).scalars())
                self._latest = (await session.execute(select(func.max(Conversation.updated_at)))).scalar_one()
                return
            # A little behind the newest id seen: on PostgreSQL a turn can commit after one with a higher id.
            found = await session.execute(
                select(Message.id, Message.conversation_id)
                .where(Message.id > self._last_message - LOOK_BACK)
                .order_by(Message.id)
                .limit(LOOK_LIMIT + LOOK_BACK)  # the rest at the next look
            )
            new = [(mid, conversation) for mid, conversation in found.all() if mid not in self._recent]
            latest = (await session.execute(select(func.max(Conversation.updated_at)))).scalar_one()
            moved = latest != self._latest
            touched = {conversation for _, conversation in new}
            changed_rows: list[tuple[int, bool]] = []
            if touched or moved:
                condition: ColumnElement[bool] = Conversation.id.in_(touched)
                if moved and self._latest is not None:
                    condition = condition | (Conversation.updated_at >= self._latest)
                found = await session.execute(select(Conversation.id, Conversation.needs_human).where(condition))
                changed_rows = [(int(i), bool(w)) for i, w in found.all()]
        if new:
            self._last_message = max(self._last_message, *(mid for mid, _ in new))
            self._recent.update(mid for mid, _ in new)
            self._recent = {mid for mid in self._recent if mid > self._last_message - LOOK_BACK}
        waiting = self._waiting if self._waiting is not None else set()
        alerts = False
        for conversation, needs_human in changed_rows:
            if needs_human or conversation in waiting:
                alerts = True
            (waiting.add if needs_human else waiting.discard)(conversation)
        # A conversation's page shows its owner, status and assignee too: changed elsewhere, or a snooze ended.
        for conversation in touched | {conversation for conversation, _ in changed_rows}:
            self.ring(("conversation", conversation))
        if alerts:
            self.ring("alerts")
        if moved or touched:
            self._latest = latest
            self.ring("inbox")


async def follow(
    feed: Feed, keys: tuple[Hashable, ...], tick: Tick, *, interval: Callable[[], float], lifetime: float
) -> AsyncIterator[bytes]:
    """`stream`, woken by the feed when something under `keys` changed; `interval` is its own slow look."""
    with feed.listen(*keys) as bell:
        async for chunk in stream(tick, bell, interval=interval, lifetime=lifetime):
            yield chunk
