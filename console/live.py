"""Server-sent events: open pages learn about new messages without reloading.

A stream looks for changes when its bell rings (delivery, or a committed turn of the chat page's
visitor) or every `interval` seconds (other processes may have written), and ends after `lifetime`;
the browser's EventSource reconnects by itself, so no stream outlives a restart for long.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

HEARTBEAT = 10.0
Tick = Callable[[], Awaitable[list[tuple[str, Any]]]]


class Bell(Protocol):
    async def wait(self, seconds: float) -> object: ...


def event(name: str, data: Any) -> bytes:
    payload = json.dumps(data, ensure_ascii=False)
    return f"event: {name}\ndata: {payload}\n\n".encode()


async def stream(tick: Tick, doorbell: Bell, *, interval: float = 1.0, lifetime: float = 300.0) -> AsyncIterator[bytes]:
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
        await doorbell.wait(interval)
    yield b": reconnect\n\n"
