"""Limits on what one visitor or one address may do on the public chat page, kept in the process.

Pure counting: callers give the time and a key (a visitor, an address) and get an answer.
"""

from __future__ import annotations

from collections import deque


class Window:
    """At most `limit` events per key in any `seconds`-long window."""

    def __init__(self, limit: int, seconds: float, *, keys: int = 50_000) -> None:
        self.limit = limit
        self.seconds = seconds
        self.keys = keys
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        """Count one event for `key` if it is within the limit; False (and nothing counted) if not."""
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= self.keys:
                self._forget(now)
            seen = self._seen[key] = deque()
        while seen and seen[0] <= now - self.seconds:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        return True

    def _forget(self, now: float) -> None:
        """Keys with nothing in their window are dropped; if every key is busy, the oldest half goes."""
        self._seen = {k: s for k, s in self._seen.items() if s and s[-1] > now - self.seconds}
        if len(self._seen) >= self.keys:
            busy = sorted(self._seen.items(), key=lambda item: item[1][-1])
            self._seen = dict(busy[len(busy) // 2 :])


class Streams:
    """Open live streams, bounded per visitor, per address and in total."""

    def __init__(self, *, per_visitor: int, per_address: int, total: int) -> None:
        self.per_visitor = per_visitor
        self.per_address = per_address
        self.total = total
        self._open = 0
        self._by: dict[str, int] = {}

    def open(self, visitor: str, address: str) -> bool:
        """Count a new stream if every bound allows it."""
        v, a = f"v:{visitor}", f"a:{address}"
        if self._open >= self.total or self._by.get(v, 0) >= self.per_visitor or self._by.get(a, 0) >= self.per_address:
            return False
        self._open += 1
        self._by[v] = self._by.get(v, 0) + 1
        self._by[a] = self._by.get(a, 0) + 1
        return True

    def close(self, visitor: str, address: str) -> None:
        self._open -= 1
        for key in (f"v:{visitor}", f"a:{address}"):
            left = self._by.get(key, 0) - 1
            if left > 0:
                self._by[key] = left
            else:
                self._by.pop(key, None)
