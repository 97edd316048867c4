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
    """Open live streams, bounded per visitor, per address and in total.

    Each stream holds a place until it is closed or, should its closing never run (a connection
    dropped before the stream started), until the moment it would have ended anyway.
    """

    def __init__(self, *, per_visitor: int, per_address: int, total: int) -> None:
        self.per_visitor = per_visitor
        self.per_address = per_address
        self.total = total
        self._open: dict[int, tuple[str, str, float]] = {}  # place → (visitor, address, end)
        self._next = 0

    def open(self, visitor: str, address: str, now: float, ends: float) -> int | None:
        """A place for a new stream lasting until `ends`, if every bound allows it; None if not."""
        self._open = {k: v for k, v in self._open.items() if v[2] > now}
        if len(self._open) >= self.total:
            return None
        if sum(1 for v, _, _ in self._open.values() if v == visitor) >= self.per_visitor:
            return None
        if sum(1 for _, a, _ in self._open.values() if a == address) >= self.per_address:
            return None
        self._next += 1
        self._open[self._next] = (visitor, address, ends)
        return self._next

    def close(self, place: int) -> None:
        self._open.pop(place, None)
