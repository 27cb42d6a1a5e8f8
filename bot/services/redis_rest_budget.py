"""Discord's REST budget shared by every process of the bot, in Redis: Discord counts 50
requests per second per bot token, whichever process sends them.

The same rule as :class:`~bot.core.pacing.Pacer` (a request counts from when it is let go until a
window after its answer; low-priority requests only while ``reserve`` places stay free), kept as
a sorted set and decided by Lua scripts on Redis's clock, so processes with skewed clocks agree.
A request in flight is scored a lease ahead, so that one whose process dies frees its place
after a while; its answer re-scores it with the time it came. If Redis fails, the process falls
back to its own pacer (logged once) and tries Redis again after a few seconds. Per-channel edit
spacing stays in each process: a thread belongs to the one process whose shard owns its server.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from redis.asyncio import Redis

from bot.core.pacing import Pacer
from bot.core.rest_budget import Ticket, take

log = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds before Redis is tried again after a failure
TIMEOUT = 0.2  # seconds a slot may wait on Redis before this process decides alone

# KEYS[1]: the sorted set of requests (score: answered at, or lease end while in flight, in ms);
# KEYS[2]: a counter for unique members (it never expires, so a late answer never meets a new
# request of the same name). ARGV: rate, reserve, window (ms), priority (1/0), lease (ms), how
# many places are wanted. Returns {members granted, hint in ms, places taken}: the hint, when
# fewer were granted than wanted, says when to ask again (-1: once a request in flight settles).
SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, reserve, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lease, wanted = tonumber(ARGV[5]), tonumber(ARGV[6])
local places = ARGV[4] == '1' and rate or (rate - reserve)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local granted = {}
while #granted < wanted and n < places do
  local member = tostring(redis.call('INCR', KEYS[2]))
  redis.call('ZADD', KEYS[1], now + lease, member)
  granted[#granted + 1] = member
  n = n + 1
end
if #granted > 0 then redis.call('PEXPIRE', KEYS[1], lease + window) end
local hint = 0
if #granted < wanted then
  local first = tonumber(redis.call('ZRANGE', KEYS[1], n - places, n - places, 'WITHSCORES')[2])
  hint = first > now and -1 or (first + window - now)
end
return {granted, hint, n}
"""

# KEYS[1]: as above; ARGV[1]: the member that has its answer; ARGV[2]: the window (ms). Added
# even if its lease ran out: Discord may have counted it up to now.
DONE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.max(redis.call('PTTL', KEYS[1]), tonumber(ARGV[2])))
return 1
"""


class RedisRestBudget:
    def __init__(self, client: Redis, pacer: Pacer, *, prefix: str) -> None:
        self.client = client
        self.pacer = pacer  # this process's own budget: the fallback
        # Not the keys of the budget before leases ("rest:slots"): in a rolling deploy, old
        # processes would read leases as slots booked 30 s ahead.
        self.keys = [f"{prefix}rest:leases", f"{prefix}rest:lease-ids"]
        self._slot = client.register_script(SLOT)
        self._done = client.register_script(DONE)
        self._down_until = 0.0

    async def slots(self, *, priority: bool, count: int) -> tuple[list[Ticket], float]:
        """Like :meth:`LocalBudget.slots`, for every process at once."""
        pacer = self.pacer
        if time.monotonic() < self._down_until:
            return take(pacer, priority=priority, count=count)
        args = [pacer.rate, pacer.reserve, int(pacer.window * 1000), int(priority)]
        try:
            # The client is the process's (bot.services.redis_client): cap the wait here.
            async with asyncio.timeout(TIMEOUT):
                members, hint, taken = await self._slot(
                    keys=self.keys, args=[*args, int(pacer.lease * 1000), count]
                )
        except Exception as exc:  # a lease taken as the wait ran out expires in time
            self._failed(exc)
            return take(pacer, priority=priority, count=count)
        if self._down_until:
            log.info("Redis is back; Discord requests are paced across processes again")
            self._down_until = 0.0
        pacer.saw(taken)
        tickets: list[Ticket] = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        return tickets, math.inf if hint < 0 else hint / 1000

    async def done(self, ticket: Ticket) -> None:
        if not isinstance(ticket, str):  # let go while Redis was down
            self.pacer.request_done(ticket)
            return
        if time.monotonic() < self._down_until:  # its lease frees the place in time
            return
        window = int(self.pacer.window * 1000)
        try:
            await self._done(keys=self.keys[:1], args=[ticket, window])
        except Exception as exc:  # its lease frees the place in time
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        if self._down_until == 0.0:
            log.warning("Redis is unreachable (%s); pacing Discord requests locally", exc)
        self._down_until = time.monotonic() + RETRY_AFTER

    async def close(self) -> None:
        """Close its client: for a client of its own (tests); the process's shared client is
        closed once, by :class:`bot.app.wiring.Services`."""
        await self.client.aclose()
