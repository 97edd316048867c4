"""Turn scheduling: turns of one chat strictly in order, different chats concurrently.

Each chat with work gets one task that drains its queue; the task ends when the queue is empty.
A bounded number of chats run at once. After a crash, `recover` replays every stored update that
never finished its turn, in the order it arrived.
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
    def __init__(self, engine: Engine, concurrency: int = 16) -> None:
        self.engine = engine
        self._queues: dict[str, deque[int]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, chat_key: str, inbox_id: int) -> None:
        queue = self._queues.setdefault(chat_key, deque())
        if inbox_id in queue:
            return
        queue.append(inbox_id)
        if chat_key not in self._tasks:
            self._idle.clear()
            self._tasks[chat_key] = asyncio.create_task(self._drain(chat_key))

    async def _drain(self, chat_key: str) -> None:
        queue = self._queues[chat_key]
        try:
            while queue:
                inbox_id = queue[0]
                async with self._slots:
                    await self.engine.process(inbox_id)
                queue.popleft()
        finally:
            # Cancelled mid-queue, the rest stays in the inbox as pending, for recover().
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
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
