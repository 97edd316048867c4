"""Look-ups asked at the same moment, answered by one query.

Delivery starts many sends at once, and a send that must first read something about its person
(is this Viber person still subscribed?) would otherwise open a session of its own. On SQLite
every session of the process waits for the one connection, behind the turns and the other
writes; a read per send made each send wait its turn in that queue. `Coalesced` gathers the keys
asked while a query is being prepared or run and reads them all in the next query: as fresh as
one read each (every answer comes from a query begun after it was asked), a session per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalesced(Generic[K, V]):
    """`get(key)` → `fetch`'s answer for it, keys asked together fetched in one call; `default` when absent."""

    def __init__(self, fetch: Callable[[list[K]], Awaitable[dict[K, V]]], default: V) -> None:
        self.fetch = fetch
        self.default = default
        self._asked: dict[K, list[asyncio.Future[V]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V:
        answer = asyncio.get_running_loop().create_future()
        self._asked.setdefault(key, []).append(answer)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read())
        return await answer  # not shielded: an asker cancelled meanwhile cancels only its own answer

    async def _read(self) -> None:
        await asyncio.sleep(0)  # let the sends started together ask first
        while self._asked:
            asked, self._asked = self._asked, {}
            try:
                found = await self.fetch(list(asked))
            except Exception as exc:  # each asker fails as its own read would have
                for waiting in asked.values():
                    for answer in waiting:
                        if not answer.done():
                            answer.set_exception(exc)
                continue
            for key, waiting in asked.items():
                for answer in waiting:
                    if not answer.done():
                        answer.set_result(found.get(key, self.default))
