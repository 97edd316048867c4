"""A request that stops waiting (its client went away) neither loses its write nor breaks the others'.

The webhook's update store, the receipts' writer and delivery's record of a send are awaited without
a shield: the waiter cancelled, its own future is cancelled, and the writer still writes it and
settles only the futures still waiting, whether the write succeeds or fails.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.inbox import InboxWriter
from bot.lookups import Coalesced


async def test_a_cancelled_request_is_still_stored_and_the_others_are_answered() -> None:
    stored: list[list[int]] = []
    submitted: list[int] = []
    release = asyncio.Event()

    async def store(batch: list[tuple[int, str, str]]) -> list[tuple[str, int]]:
        await release.wait()
        stored.append([update_id for update_id, _, _ in batch])
        return [(chat, update_id) for update_id, chat, _ in batch]

    writer = InboxWriter(store, submitted.append)
    gone = asyncio.create_task(writer.store(1, "a", "{}"))
    waiting = asyncio.create_task(writer.store(2, "b", "{}"))
    await asyncio.sleep(0.01)
    gone.cancel()
    release.set()
    await waiting
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert stored == [[1, 2]] and submitted == [1, 2]


async def test_a_failed_commit_fails_the_waiting_requests_and_passes_over_a_cancelled_one() -> None:
    release = asyncio.Event()

    async def store(batch: list[tuple[int, str, str]]) -> list[tuple[str, int]]:
        await release.wait()
        raise RuntimeError("the database is away")

    writer = InboxWriter(store, lambda inbox_id: None)
    gone = asyncio.create_task(writer.store(1, "a", "{}"))
    waiting = asyncio.create_task(writer.store(2, "b", "{}"))
    await asyncio.sleep(0.01)
    gone.cancel()
    release.set()
    with pytest.raises(RuntimeError, match="away"):
        await waiting  # each update then tried on its own: the cancelled one's failure goes nowhere
    assert gone.cancelled()
    assert writer._writer is not None
    await writer._writer  # the writer itself finished cleanly


async def test_an_asker_cancelled_meanwhile_does_not_stop_the_others_answers() -> None:
    release = asyncio.Event()

    async def fetch(keys: list[str]) -> dict[str, int]:
        await release.wait()
        return {key: len(key) for key in keys}

    lookups: Coalesced[str, int] = Coalesced(fetch, 0)
    gone = asyncio.create_task(lookups.get("abc"))
    waiting = asyncio.create_task(lookups.get("abcd"))
    await asyncio.sleep(0.01)
    gone.cancel()
    release.set()
    assert await waiting == 4
    assert gone.cancelled()
