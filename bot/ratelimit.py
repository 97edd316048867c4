"""Rate limits that every sender obeys: in process, or shared by several workers through Redis.

`acquire(chat)` answers 0 when a message to `chat` may go now — and then takes the tokens —
or how many seconds to wait and why ("pause", "global" or "chat": only a chat's own limit lets
the sender try another chat meanwhile). The global bucket (Telegram: about 30 messages a second per bot),
the chat's bucket (about 1 a second, short bursts; 20 a minute for groups) and a pause set by a
429's `retry_after` are checked together, atomically in Redis, so three workers together stay
under the global limit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from redis.exceptions import RedisError

from bot.pacing import Pacer

log = logging.getLogger(__name__)


class Limiter(Protocol):
    async def acquire(self, chat_id: str) -> tuple[float, str]: ...

    async def pause(self, seconds: float) -> None: ...


class LocalLimiter:
    """One process's limits (SQLite deployments, or a single worker)."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def acquire(self, chat_id: str) -> tuple[float, str]:
        now = asyncio.get_running_loop().time()
        wait, scope = self.pacer.check(chat_id, now)
        if wait <= 0:
            self.pacer.take(chat_id, now)
        return wait, scope

    async def pause(self, seconds: float) -> None:
        self.pacer.pause(seconds, asyncio.get_running_loop().time())


# KEYS: global bucket, chat bucket, pause; ARGV: global rate, global capacity, chat rate, chat capacity.
# Time comes from the Redis server, so workers on different machines share one clock.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return 'pause:' .. tostring(paused - now) end
local function level(key, rate, cap)
  local v = redis.call('HMGET', key, 'tokens', 'stamp')
  local tokens = tonumber(v[1]) or cap
  local stamp = tonumber(v[2]) or now
  return math.min(cap, tokens + math.max(0, now - stamp) * rate)
end
local grate, gcap = tonumber(ARGV[1]), tonumber(ARGV[2])
local crate, ccap = tonumber(ARGV[3]), tonumber(ARGV[4])
local g = level(KEYS[1], grate, gcap)
local c = level(KEYS[2], crate, ccap)
local gwait, cwait = 0, 0
if g < 1 then gwait = (1 - g) / grate end
if c < 1 then cwait = (1 - c) / crate end
if gwait > 0 and gwait >= cwait then return 'global:' .. tostring(gwait) end
if cwait > 0 then return 'chat:' .. tostring(cwait) end
redis.call('HSET', KEYS[1], 'tokens', g - 1, 'stamp', now)
redis.call('EXPIRE', KEYS[1], 60)
redis.call('HSET', KEYS[2], 'tokens', c - 1, 'stamp', now)
redis.call('EXPIRE', KEYS[2], 300)
return ':0'
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untill = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untill > current then redis.call('SET', KEYS[1], tostring(untill), 'EX', math.ceil(tonumber(ARGV[1])) + 5) end
return 1
"""


class RedisLimiter:
    """Limits shared by every worker through one Redis server (`HOMEWARD_REDIS_URL`)."""

    def __init__(self, url: str, pacer: Pacer, prefix: str = "homeward:rate") -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url)
        self.pacer = pacer
        self.prefix = prefix
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._pause = self.redis.register_script(_PAUSE)
        # Fallback while Redis is unreachable: this process's own limits, a third of the global rate.
        self._local = LocalLimiter(
            Pacer(max(1.0, pacer.global_rate / 3), pacer.chat_rate, pacer.chat_burst, pacer.group_per_minute)
        )
        self._degraded = False

    async def acquire(self, chat_id: str) -> tuple[float, str]:
        group = chat_id.startswith("-")
        chat_rate = self.pacer.group_per_minute / 60 if group else self.pacer.chat_rate
        chat_capacity = 1 if group else self.pacer.chat_burst
        keys = [f"{self.prefix}:global", f"{self.prefix}:chat:{chat_id}", f"{self.prefix}:pause"]
        args = [self.pacer.global_rate, self.pacer.global_capacity, chat_rate, chat_capacity]
        try:
            answer = await self._acquire(keys=keys, args=args)
        except (RedisError, OSError):
            # Redis away: keep sending within this process's own share of the limits, and say so once.
            if not self._degraded:
                log.warning("shared rate limit unavailable; pacing within this process")
                self._degraded = True
            return await self._local.acquire(chat_id)
        self._degraded = False
        scope, _, wait = answer.decode().partition(":")
        return float(wait), scope

    async def pause(self, seconds: float) -> None:
        await self._local.pause(seconds)
        try:
            await self._pause(keys=[f"{self.prefix}:pause"], args=[seconds])
        except (RedisError, OSError):
            log.warning("shared rate limit unavailable; the pause holds in this process only")

    async def close(self) -> None:
        await self.redis.aclose()
