"""Discord's REST budget shared by every process of the bot, in Redis: Discord counts 50
requests per second per bot token, whichever process sends them.

The same sliding-window rule as :class:`~bot.pacing.Pacer` (each slot at least a second after
the slot ``rate`` places before it; low-priority slots only while ``reserve`` stays free), kept
as a sorted set of slot times and decided by one Lua script on Redis's clock, so processes with
skewed clocks agree. If Redis fails, the process falls back to its own pacer (logged once) and
tries Redis again after a few seconds. Per-channel edit spacing stays in each process: a thread
belongs to the one process whose shard owns its server.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from redis.asyncio import Redis

from .pacing import Pacer

log = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds before Redis is tried again after a failure
TIMEOUT = 0.2  # seconds a slot may wait on Redis before this process decides alone

# KEYS[1]: the sorted set of slot times (ms); KEYS[2]: a counter for unique members.
# ARGV: rate, reserve, window (ms), priority (1/0). Returns the delay in ms, or -(hint) if a
# low-priority request may not go now.
SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, reserve, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local priority = ARGV[4] == '1'
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local start = now
local places = priority and rate or (rate - reserve)
if n >= places then
  local before = redis.call('ZRANGE', KEYS[1], n - places, n - places, 'WITHSCORES')
  local free = tonumber(before[2]) + window
  if free > now then
    if not priority then return -(free - now) end
    start = free
  end
end
local id = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], start, start .. ':' .. id)
redis.call('PEXPIRE', KEYS[1], window * 4)
redis.call('PEXPIRE', KEYS[2], window * 4)
return start - now
"""


class RedisRestBudget:
    def __init__(self, client: Redis, pacer: Pacer, *, prefix: str) -> None:
        self.client = client
        self.pacer = pacer  # this process's own budget: the fallback
        self.keys = [f"{prefix}rest:slots", f"{prefix}rest:ids"]
        self._script = client.register_script(SLOT)
        self._down_until = 0.0

    @classmethod
    def from_url(cls, url: str, pacer: Pacer, *, prefix: str) -> RedisRestBudget:
        client = Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        return cls(client, pacer, prefix=prefix)

    async def slot(self, *, priority: bool) -> tuple[bool, float]:
        """Like :meth:`Pacer.request_slot`, for every process at once."""
        if time.monotonic() < self._down_until:
            return self.pacer.request_slot(priority=priority)
        args: list[Any] = [self.pacer.rate, self.pacer.reserve, int(self.pacer.window * 1000)]
        try:
            delay = int(await self._script(keys=self.keys, args=[*args, int(priority)]))
        except Exception as exc:
            if self._down_until == 0.0:
                log.warning("Redis is unreachable (%s); pacing Discord requests locally", exc)
            self._down_until = time.monotonic() + RETRY_AFTER
            return self.pacer.request_slot(priority=priority)
        if self._down_until:
            log.info("Redis is back; Discord requests are paced across processes again")
            self._down_until = 0.0
        return (delay >= 0, abs(delay) / 1000)

    async def close(self) -> None:
        await self.client.aclose()
