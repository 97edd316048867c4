"""Turn scheduling: turns of one chat strictly in order, different chats concurrently.

Each chat with work gets one task that drains its queue; the task ends when the queue is empty.
A bounded number of chats run at once. After a crash, `recover` replays every stored update that
never finished its turn, in the order it arrived.

On SQLite the whole process shares one connection, so turns run one after another whatever the
scheduling. There, turns are run in arrival order by a single task, and the turns waiting at one
moment share one transaction (group commit, see `Engine.process_batch`): each turn still commits
entirely or not at all, and turns of one chat keep their order because the whole queue does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from sqlalchemy import select

from bot.engine import Engine
from db.models import InboxUpdate

log = logging.getLogger(__name__)


class TurnScheduler:
    def __init__(self, engine: Engine, concurrency: int = 16, batch: int = 64) -> None:
        self.engine = engine
        self.batch = batch
        self._serial = engine.db.is_sqlite
        self._queues: dict[str, deque[int]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._idle = asyncio.Event()
        self._idle.set()
        self._fifo: deque[int] = deque()  # SQLite: every waiting turn, in arrival order
        self._waiting: set[int] = set()
        self._runner: asyncio.Task[None] | None = None

    def submit(self, chat_key: str, inbox_id: int) -> None:
        if self._serial:
            if inbox_id in self._waiting:
                return
            self._waiting.add(inbox_id)
            self._fifo.append(inbox_id)
            if self._runner is None:
                self._idle.clear()
                self._runner = asyncio.create_task(self._run_in_order())
            return
        queue = self._queues.setdefault(chat_key, deque())
        if inbox_id in queue:
            return
        queue.append(inbox_id)
        if chat_key not in self._tasks:
            self._idle.clear()
            self._tasks[chat_key] = asyncio.create_task(self._drain(chat_key))

    async def _run_in_order(self) -> None:
        try:
            while self._fifo:
                ids = [self._fifo[i] for i in range(min(self.batch, len(self._fifo)))]
                await self.engine.process_batch(ids)
                for inbox_id in ids:
                    self._fifo.popleft()
                    self._waiting.discard(inbox_id)
                await asyncio.sleep(0)  # let intake and delivery in between batches
        finally:
            # Cancelled mid-queue, the rest stays in the inbox as pending, for recover().
            self._runner = None
            self._fifo.clear()
            self._waiting.clear()
            self._idle.set()

    async def _drain(self, chat_key: str) -> None:
        queue = self._queues[chat_key]
        try:
            while queue:
                inbox_id = queue[0]
                async with self._slots:
                    await self.engine.process(inbox_id)
                queue.popleft()
        finally:
            del self._tasks[chat_key]
            del self._queues[chat_key]
            if not self._tasks:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Until every submitted turn has run (tests and orderly shutdown)."""
        await self._idle.wait()

    async def recover(self, retry_failed: bool = False) -> int:
        """Submit every stored update whose turn has not finished, oldest first."""
        statuses = ["pending", "failed"] if retry_failed else ["pending"]
        async with self.engine.db.sessions() as session:
            rows = (
                await session.execute(
                    select(InboxUpdate.id, InboxUpdate.chat_key)
                    .where(InboxUpdate.status.in_(statuses), InboxUpdate.attempts < 3)
                    .order_by(InboxUpdate.id)
                )
            ).all()
        for inbox_id, chat_key in rows:
            self.submit(chat_key, inbox_id)
        return len(rows)

    async def close(self) -> None:
        tasks = [*self._tasks.values(), *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
