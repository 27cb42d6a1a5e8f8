"""The shared limiter: the same buckets as :class:`LocalLimiter`, kept in Redis, so that every
process of the bot (one model account) shares one set of limits.

Each decision is one Lua script (``EVALSHA``), atomic and timed by the Redis server's clock. Redis
is never allowed to stop the bot: when it fails or takes longer than ``timeout`` to answer, the
process decides alone (an in-process :class:`LocalLimiter`), says so once in the log, tries Redis
again every ``retry_after`` seconds, and shares the limits again as soon as it answers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from bot.core.ratelimit.base import (
    Clock,
    Decision,
    Limit,
    Ticket,
    account_hold,
    is_private,
)
from bot.core.ratelimit.local import LocalLimiter
from bot.core.ratelimit.spending import Hold, LocalSpending, Seed, Verdict, day_of, until_midnight
from bot.core.settings import DEFAULT_DM_RPM, DEFAULT_DM_TPM, DEFAULT_REDIS_PREFIX, redacted_url
from bot.services.ratelimit import scripts
from bot.services.redis_client import redis_client

log = logging.getLogger(__name__)

TIMEOUT = 0.1  # seconds a decision may wait on Redis before this process decides alone
RETRY_AFTER = 5.0  # seconds between attempts to reach Redis again once it failed
TTL_MARGIN_MS = 60_000  # a bucket's key outlives the time its bucket takes to refill by this
# The limits by the scripts' rank, for a server's scope and for a person's private one.
LIMITS = (None, Limit.ACCOUNT, Limit.SERVER_REQUESTS, Limit.SERVER_TOKENS, Limit.USER_REQUESTS)
PRIVATE_LIMITS = (
    None, Limit.ACCOUNT, Limit.PRIVATE_REQUESTS, Limit.PRIVATE_TOKENS, Limit.USER_REQUESTS,
)  # fmt: skip


class Fallback:
    """When a Redis call may be made, and what its failure means: this process decides alone
    (the caller's fallback) from the first failure, says so once, lets one call at a time try
    Redis again every ``retry_after`` seconds, and says when it answers again. Shared by the
    limiter and the spending budgets, which differ only in what they say."""

    def __init__(
        self,
        *,
        where: str,
        what: str,
        clock: Clock = time.monotonic,
        timeout: float = TIMEOUT,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self.where = where  # for the log: the URL without its password
        self.what = what  # what this process keeps alone meanwhile ("the limits")
        self.clock = clock
        self.timeout = timeout
        self.retry_after = retry_after
        self.down = False  # Redis failed: deciding alone until it answers again
        self.failures = 0  # calls that Redis failed (each decided by this process alone)
        self._retry_at = 0.0
        self._probing = False  # one call at a time tries a Redis that failed

    async def call(self, make: Callable[[], Awaitable[Any]]) -> Any | None:
        """``make()``'s answer, or None when this process decides alone: Redis failed just
        now, or failed lately and it is not yet time (or another call's turn) to try again."""
        probe = self.down
        if probe and (self._probing or self.clock() < self._retry_at):
            return None
        if probe:
            self._probing = True
        try:
            async with asyncio.timeout(self.timeout):
                result = await make()
        except (RedisError, OSError, TimeoutError) as error:
            self.failures += 1
            self._retry_at = self.clock() + self.retry_after
            if not self.down:
                self.down = True
                log.warning(
                    "%s is unreachable or too slow (%s): this process keeps %s alone until "
                    "it answers; trying again every %g s",
                    self.where, str(error) or type(error).__name__, self.what, self.retry_after,
                )  # fmt: skip
            return None
        finally:
            if probe:
                self._probing = False
        if self.down:
            self.down = False
            log.info("%s answers again: %s are shared again", self.where, self.what)
        return result


class InRedis:
    """What the limiter and the budgets share: scripts run through one :class:`Fallback`."""

    fallback: Fallback

    async def _run(
        self, script: AsyncScript, keys: Sequence[str], args: Sequence[float | str]
    ) -> Any | None:
        """The script's result, or None when this process decides alone (see Fallback). A
        correction that Redis did not take leaves the reservation counted: too much, never
        too little."""
        return await self.fallback.call(lambda: script(keys=keys, args=args))

    @property
    def down(self) -> bool:
        return self.fallback.down

    @property
    def failures(self) -> int:
        return self.fallback.failures


class RedisLimiter(InRedis):
    """Per-server requests and tokens per minute, per-user requests per minute, each person's
    private budget outside servers (``dm_*``; 0 disables one), and the account's hold, in
    Redis under ``prefix``. The scripts take each bucket's capacity from the call, so a private
    scope is the same script with the private budget.

    ``clock`` is for tests: it stands in for the Redis server's time (passed to the scripts)
    and for this process's (the fallback's buckets and the retry back-off)."""

    def __init__(
        self,
        client: Redis,
        *,
        guild_rpm: int,
        guild_tpm: int,
        user_rpm: int,
        dm_rpm: int = DEFAULT_DM_RPM,
        dm_tpm: int = DEFAULT_DM_TPM,
        prefix: str = DEFAULT_REDIS_PREFIX,
        where: str = "Redis",
        clock: Clock | None = None,
        timeout: float = TIMEOUT,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self.client = client
        self.guild_rpm, self.guild_tpm, self.user_rpm = guild_rpm, guild_tpm, user_rpm
        self.prefix = prefix
        self.where = where  # for the log: the URL without its password
        self.dm_rpm, self.dm_tpm = dm_rpm, dm_tpm
        self.local = LocalLimiter(
            guild_rpm, guild_tpm, user_rpm, dm_rpm, dm_tpm, clock=clock or time.monotonic
        )
        self._test_clock = clock
        self.fallback = Fallback(
            where=where, what="the limits", clock=clock or time.monotonic, timeout=timeout,
            retry_after=retry_after,
        )  # fmt: skip
        self._acquire = client.register_script(scripts.ACQUIRE)
        self._adjust = client.register_script(scripts.ADJUST)
        self._hold = client.register_script(scripts.HOLD)
        self._peek = client.register_script(scripts.PEEK)
        self._account_key = f"{prefix}account"

    @classmethod
    def from_url(
        cls, url: str, *, guild_rpm: int, guild_tpm: int, user_rpm: int, **options: Any
    ) -> RedisLimiter:
        """A limiter with a client of its own (tests, benchmarks: the bot shares the process's,
        :func:`~bot.services.redis_client.redis_client`); nothing connects until the first
        decision."""
        client = redis_client(url, timeout=options.get("timeout", TIMEOUT))
        options.setdefault("where", redacted_url(url))
        return cls(client, guild_rpm=guild_rpm, guild_tpm=guild_tpm, user_rpm=user_rpm, **options)

    async def acquire(self, scope: int, user_id: int, tokens: int) -> Decision:
        budget = self.local.budget(scope)
        keys = [self._key("rpm", scope), self._key("tpm", scope), self._key("user", user_id)]
        args = [budget.rpm, budget.tpm, self.user_rpm, tokens, self._now(), TTL_MARGIN_MS]
        result = await self._run(self._acquire, [*keys, self._account_key], args)
        if result is None:
            return self.local.decide(scope, user_id, tokens)
        deciseconds, rank = result
        if rank == 0:
            return Decision(wait=0.0, ticket=Ticket(scope, tokens))
        limits = PRIVATE_LIMITS if is_private(scope) else LIMITS
        return Decision(wait=deciseconds / 10, limit=limits[rank])

    async def peek(self, scope: int, user_id: int, tokens: int = 0) -> Decision:
        budget = self.local.budget(scope)
        keys = [self._key("rpm", scope), self._key("tpm", scope), self._key("user", user_id)]
        args = [budget.rpm, budget.tpm, self.user_rpm, tokens, self._now(), TTL_MARGIN_MS]
        result = await self._run(self._peek, [*keys, self._account_key], args)
        if result is None:
            return self.local.decide(scope, user_id, tokens, charge=False)
        deciseconds, rank = result
        if rank == 0:
            return Decision(wait=0.0)
        limits = PRIVATE_LIMITS if is_private(scope) else LIMITS
        return Decision(wait=deciseconds / 10, limit=limits[rank])

    async def settle(self, ticket: Ticket, actual_tokens: int) -> None:
        capacity = self.local.budget(ticket.scope).tpm
        if capacity and not await self._adjust_tokens(
            ticket.scope, capacity, ticket.charged_tokens - actual_tokens
        ):
            self.local.give_back(ticket, actual_tokens)

    async def charge(self, scope: int, tokens: int) -> None:
        capacity = self.local.budget(scope).tpm
        if capacity and not await self._adjust_tokens(scope, capacity, -tokens):
            self.local.spend(scope, tokens)

    async def observe(self, headers: Mapping[str, str]) -> None:
        """Most responses leave the account far from its limits and cost no round trip."""
        self.local.account.observe(headers)  # kept here too, should Redis fail
        hold = account_hold(headers, self.local.account.reserve)
        if hold is not None:
            await self._run(self._hold, [self._account_key], [hold, self._now(), TTL_MARGIN_MS])

    async def close(self) -> None:
        await self.client.aclose()

    def _key(self, kind: str, number: int) -> str:
        return f"{self.prefix}{kind}:{number}"

    def _now(self) -> float | str:
        """The scripts' time: the Redis server's ('') unless a test brings its own clock."""
        return "" if self._test_clock is None else self._test_clock()

    async def _adjust_tokens(self, scope: int, capacity: int, delta: int) -> bool:
        """Whether Redis took the correction."""
        args = [capacity, delta, self._now(), TTL_MARGIN_MS]
        return await self._run(self._adjust, [self._key("tpm", scope)], args) is not None


class RedisSpending(InRedis):
    """The day's spend per person and per server in Redis under ``prefix`` (keys named for the
    UTC day, expiring an hour after it ends), shared by every process. When Redis fails, this
    process decides alone with a :class:`LocalSpending` seeded from the stored usage, as the
    limiter does: never a crash, never a pass past the local budget."""

    def __init__(
        self,
        client: Redis,
        *,
        user_budget: float | None,
        guild_budget: float | None,
        seed: Seed | None = None,
        prefix: str = DEFAULT_REDIS_PREFIX,
        where: str = "Redis",
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,  # for the retry back-off (tests move it)
        timeout: float = TIMEOUT,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self.client = client
        self.user_budget, self.guild_budget = user_budget, guild_budget
        self.prefix = prefix
        self.where = where
        self.clock = clock
        self.fallback = Fallback(
            where=where, what="the spending budgets", clock=monotonic, timeout=timeout,
            retry_after=retry_after,
        )  # fmt: skip
        self.local = LocalSpending(user_budget, guild_budget, seed=seed, clock=clock)
        self._reserve = client.register_script(scripts.RESERVE)
        self._spend = client.register_script(scripts.SPEND)

    def may_notify(self, user_id: int) -> bool:
        return self.local.may_notify(user_id)

    async def reserve(self, user_id: int, guild_id: int | None, amount: float) -> Verdict:
        now = self.clock()
        day = day_of(now)
        budgets = (self.user_budget, self.guild_budget)
        args = [*("" if b is None else b for b in budgets), amount, self._ttl(now)]
        result = await self._run(self._reserve, self._keys(day, user_id, guild_id), args)
        if result is None:
            return await self.local.reserve(user_id, guild_id, amount)
        if result == 0:
            return Verdict(Hold(day, user_id, guild_id, amount, shared=True))
        return Verdict(
            None, Limit.USER_BUDGET if result == 1 else Limit.SERVER_BUDGET, until_midnight(now)
        )

    async def settle(self, hold: Hold, actual: float) -> None:
        if not hold.shared:
            self.local.adjust(hold, actual)
            return
        now = self.clock()
        same_day = day_of(now) == hold.day
        delta = actual - hold.amount if same_day else actual
        keys = self._keys(day_of(now), hold.user_id, hold.guild_id)
        await self._run(self._spend, keys, [delta, self._ttl(now)])

    async def charge(self, user_id: int, guild_id: int | None, amount: float) -> None:
        now = self.clock()
        keys = self._keys(day_of(now), user_id, guild_id)[-1:]  # the server's, else the person's
        if await self._run(self._spend, keys, [amount, self._ttl(now)]) is None:
            await self.local.charge(user_id, guild_id, amount)

    async def spent(self, user_id: int, guild_id: int | None) -> tuple[float, float]:
        keys = self._keys(day_of(self.clock()), user_id, guild_id)
        values = await self.fallback.call(lambda: self.client.mget(keys))
        if values is None:
            return await self.local.spent(user_id, guild_id)
        user = float(values[0] or 0)
        return user, float(values[1] or 0) if guild_id is not None else 0.0

    def _keys(self, day: int, user_id: int, guild_id: int | None) -> list[str]:
        keys = [f"{self.prefix}spend:{day}:user:{user_id}"]
        if guild_id is not None:
            keys.append(f"{self.prefix}spend:{day}:server:{guild_id}")
        return keys

    def _ttl(self, now: float) -> int:
        """Milliseconds a day's key lives: to the end of the UTC day, and an hour more."""
        return math.ceil((until_midnight(now) + 3600) * 1000)
