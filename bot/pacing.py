"""Rate limits as plain arithmetic: token buckets that say how long to wait, never sleep themselves.

The delivery worker asks a `Pacer` when a message to a chat may go; the pacer knows the global
bucket (Telegram: about 30 messages a second per bot), one bucket per chat (about 1 a second,
with a short burst) and a pause set by a 429's `retry_after`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = -1.0
    stamp: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is available now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1


@dataclass
class Pacer:
    global_rate: float = 25.0
    chat_rate: float = 1.0
    chat_burst: int = 3
    group_per_minute: int = 20
    # Messages the global bucket may send at once after a quiet spell; None: a fifth of the rate. Keep
    # rate + burst at or under the channel's limit (25 + 5 = Telegram's 30) and no second holds more.
    global_burst: float | None = None
    paused_until: float = 0.0
    _global: TokenBucket = field(init=False)
    _chats: dict[str, TokenBucket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._global = TokenBucket(self.global_rate, self.global_capacity)

    @property
    def global_capacity(self) -> float:
        return max(1.0, self.global_rate / 5 if self.global_burst is None else self.global_burst)

    def _chat(self, chat_id: str, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) > 10_000:  # forget chats whose buckets are full again
                self._chats = {k: b for k, b in self._chats.items() if b.wait_time(now) > 0 or b.tokens < b.capacity}
            group = chat_id.startswith("-")
            bucket = (
                TokenBucket(self.group_per_minute / 60, 1.0)
                if group
                else TokenBucket(self.chat_rate, float(self.chat_burst))
            )
            bucket.stamp = now
            self._chats[chat_id] = bucket
        return bucket

    def wait_time(self, chat_id: str, now: float) -> float:
        """Seconds before a message to `chat_id` may be sent."""
        return self.check(chat_id, now)[0]

    def check(self, chat_id: str, now: float) -> tuple[float, str]:
        """Seconds to wait and what for: "pause" (a 429), "global" (all chats), "chat" (this chat only)."""
        if self.paused_until > now:
            return self.paused_until - now, "pause"
        overall = self._global.wait_time(now)
        chat = self._chat(chat_id, now).wait_time(now)
        if overall > 0 and overall >= chat:
            return overall, "global"
        if chat > 0:
            return chat, "chat"
        return 0.0, ""

    def take(self, chat_id: str, now: float) -> None:
        self._global.take(now)
        self._chat(chat_id, now).take(now)

    def pause(self, seconds: float, now: float) -> None:
        self.paused_until = max(self.paused_until, now + seconds)
