"""A fake Bot API server in a process of its own, driven over a pipe.

The benchmarks run the server apart so that its CPU does not count against the bot they measure.
A command is the name of one of the server's methods and its arguments; the method's result
(awaited if it is a coroutine) is sent back. "stop", or the pipe closing, ends the process.
"""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from tests.fakebot import FakeBotApi


def serve(conn: Connection, api_class: type[FakeBotApi]) -> None:
    """Entry point of the server process: answers the bench's commands until told to stop."""
    asyncio.run(_serve(conn, api_class))


async def _serve(conn: Connection, api_class: type[FakeBotApi]) -> None:
    api = api_class()
    await api.start()
    conn.send(api.base)
    try:
        while True:
            try:
                command, args = await asyncio.to_thread(conn.recv)  # the bench ends with "stop" or exits
            except EOFError:
                return
            if command == "stop":
                return
            result = getattr(api, command)(*args)
            conn.send(await result if inspect.isawaitable(result) else result)
    finally:
        await api.stop()


class ApiProcess:
    """The bench's handle on the server process."""

    def __init__(self, api_class: type[FakeBotApi]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child, api_class), name="fake-bot-api", daemon=True)
        self.base = ""

    async def start(self) -> None:
        self._process.start()
        self.base = await asyncio.to_thread(self._receive, 30.0)

    def _receive(self, seconds: float) -> Any:
        if not self._conn.poll(seconds):
            raise TimeoutError("the fake Bot API server did not answer")
        return self._conn.recv()

    async def ask(self, seconds: float, command: str, *args: Any) -> Any:
        """Call the server's method `command` with `args`; its result, within `seconds`."""
        self._conn.send((command, args))
        return await asyncio.to_thread(self._receive, seconds)

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send(("stop", ()))
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
