"""Spending budgets in money: US dollars per UTC day, per person (``USER_DAILY_BUDGET``, wherever
they talk to the bot) and per server (``GUILD_DAILY_BUDGET``; summaries count here).

A reply reserves its worst case (the prompt and the whole completion allowance, priced) before
the model is called and settles what it really cost afterwards, as the token limiter does.
:class:`LocalSpending` keeps the day's spend in this process, seeded from the stored usage the
first time a person or server is seen each day (so a restart forgets nothing);
:class:`~bot.services.ratelimit.redis.RedisSpending` keeps it in Redis, shared by every process.

Pure and Discord-free; the wall clock is injected, so tests move midnight at will.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.core.notices import NoticeThrottle
from bot.core.ratelimit.base import Limit

log = logging.getLogger(__name__)

DAY = 86_400.0
NOTICE_EVERY = 3_600.0  # seconds between two over-budget notices to one person
MAX_NOTICES = 10_000  # people remembered for the throttle (forgotten oldest first)

Kind = Literal["user", "server"]
# The spend already stored for a person or a server on a UTC day (the usage table's cost).
Seed = Callable[[Kind, int, int], Awaitable[float]]  # (kind, id, day number) -> dollars


def day_of(now: float) -> int:
    """The UTC day number (days since 1970-01-01) of a wall-clock time."""
    return math.floor(now / DAY)


def until_midnight(now: float) -> float:
    """Seconds until the next UTC midnight, when every budget starts again."""
    return (day_of(now) + 1) * DAY - now


@dataclass(frozen=True, slots=True)
class Hold:
    """What a granted request reserved, to settle with the real cost afterwards."""

    day: int
    user_id: int
    guild_id: int | None
    amount: float
    shared: bool = False  # reserved in Redis (else in this process)


@dataclass(frozen=True, slots=True)
class Verdict:
    hold: Hold | None  # granted (and reserved) when set
    over: Limit | None = None  # whose budget is spent: USER_BUDGET or SERVER_BUDGET
    resets_in: float = 0.0  # seconds until UTC midnight


class Spending(Protocol):
    user_budget: float | None
    guild_budget: float | None

    async def reserve(self, user_id: int, guild_id: int | None, amount: float) -> Verdict:
        """Reserve ``amount`` dollars for a request, or say whose budget is spent."""
        ...

    async def settle(self, hold: Hold, actual: float) -> None:
        """Replace a reservation with what the request really cost."""
        ...

    async def charge(self, user_id: int, guild_id: int | None, amount: float) -> None:
        """Spend what no request reserved (summaries): the server's, else the person's."""
        ...

    async def spent(self, user_id: int, guild_id: int | None) -> tuple[float, float]:
        """Today's spend so far: the person's, and the server's (0 outside servers)."""
        ...

    def may_notify(self, user_id: int) -> bool:
        """Whether to tell this person that a budget is spent (once an hour at most)."""
        ...


def is_on(user_budget: float | None, guild_budget: float | None) -> bool:
    return user_budget is not None or guild_budget is not None


@dataclass(slots=True)
class LocalSpending:
    """The day's spend per person and per server in this process. Bounded by the day: it
    holds the people and servers that spent something today, and starts empty at midnight."""

    user_budget: float | None
    guild_budget: float | None
    seed: Seed | None = None
    clock: Callable[[], float] = time.time  # wall clock: the day is UTC's
    notices: NoticeThrottle = field(init=False)
    _day: int = -1
    _spent: dict[tuple[Kind, int], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.notices = NoticeThrottle(NOTICE_EVERY, self.clock, MAX_NOTICES)

    def may_notify(self, user_id: int) -> bool:
        return self.notices.should_tell(user_id)

    async def reserve(self, user_id: int, guild_id: int | None, amount: float) -> Verdict:
        now = self.clock()
        keys = self._keys(user_id, guild_id)
        await self._seed(day_of(now), keys)
        return self.decide(now, user_id, guild_id, amount)

    async def settle(self, hold: Hold, actual: float) -> None:
        self.adjust(hold, actual)

    async def charge(self, user_id: int, guild_id: int | None, amount: float) -> None:
        now = self.clock()
        key: tuple[Kind, int] = ("server", guild_id) if guild_id is not None else ("user", user_id)
        await self._seed(day_of(now), [key])
        self.add(now, key, amount)

    async def spent(self, user_id: int, guild_id: int | None) -> tuple[float, float]:
        now = self.clock()
        await self._seed(day_of(now), self._keys(user_id, guild_id))
        self._roll(day_of(now))
        user = self._spent.get(("user", user_id), 0.0)
        return user, self._spent.get(("server", guild_id), 0.0) if guild_id is not None else 0.0

    # The same operations, synchronous: the Redis backend falls back on them without awaiting
    # (after seeding).

    def decide(self, now: float, user_id: int, guild_id: int | None, amount: float) -> Verdict:
        day = day_of(now)
        self._roll(day)
        checks: list[tuple[Limit, tuple[Kind, int], float | None]] = [
            (Limit.USER_BUDGET, ("user", user_id), self.user_budget)
        ]
        if guild_id is not None:
            checks.append((Limit.SERVER_BUDGET, ("server", guild_id), self.guild_budget))
        for limit, key, budget in checks:
            if budget is not None and self._spent.get(key, 0.0) + amount > budget:
                return Verdict(None, limit, until_midnight(now))
        for _, key, _ in checks:
            self._spent[key] = self._spent.get(key, 0.0) + amount
        return Verdict(Hold(day, user_id, guild_id, amount))

    def adjust(self, hold: Hold, actual: float) -> None:
        if day_of(self.clock()) != hold.day:
            self.add(self.clock(), ("user", hold.user_id), actual)  # yesterday's is gone
            if hold.guild_id is not None:
                self.add(self.clock(), ("server", hold.guild_id), actual)
            return
        for key in self._keys(hold.user_id, hold.guild_id):
            self._spent[key] = max(0.0, self._spent.get(key, 0.0) + actual - hold.amount)

    def add(self, now: float, key: tuple[Kind, int], amount: float) -> None:
        self._roll(day_of(now))
        self._spent[key] = self._spent.get(key, 0.0) + amount

    @staticmethod
    def _keys(user_id: int, guild_id: int | None) -> list[tuple[Kind, int]]:
        keys: list[tuple[Kind, int]] = [("user", user_id)]
        if guild_id is not None:
            keys.append(("server", guild_id))
        return keys

    def _roll(self, day: int) -> None:
        if day != self._day:
            self._day = day
            self._spent.clear()

    async def _seed(self, day: int, keys: list[tuple[Kind, int]]) -> None:
        """A person or server first seen today starts from what the store says they spent."""
        self._roll(day)
        for key in keys:
            if key in self._spent:
                continue
            stored = 0.0
            if self.seed is not None:
                try:
                    stored = await self.seed(key[0], key[1], day)
                except Exception:  # the store is down: count from zero rather than stop
                    log.exception("Could not read today's stored spend for %s %s", *key)
            self._roll(day)
            self._spent.setdefault(key, stored)
