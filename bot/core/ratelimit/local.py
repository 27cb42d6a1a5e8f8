"""The in-process limiter: token buckets per server and per user in this process's memory.

Pure and Discord-free; time comes from a clock so tests need no sleeping. Each decision is O(1)
and never waits, though the methods are async to fit the :class:`Limiter` interface.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.ratelimit.base import (
    ACCOUNT_RESERVE,
    Budget,
    Clock,
    Decision,
    Limit,
    Ticket,
    account_hold,
    is_private,
)
from bot.core.settings import DEFAULT_DM_RPM, DEFAULT_DM_TPM

# Idle (full) buckets are forgotten past this many. A bucket is full again a minute after its
# last use (longer only while in debt), so at most max(MAX_BUCKETS, 2 x the buckets used in the
# last minute) are kept: bounded by who is active, not by who ever was.
MAX_BUCKETS = 10_000


@dataclass(slots=True)
class TokenBucket:
    """Refills continuously at ``capacity`` per minute; may go into debt when corrected."""

    capacity: float
    level: float
    updated: float

    @classmethod
    def per_minute(cls, capacity: int, now: float) -> TokenBucket:
        return cls(float(capacity), float(capacity), now)

    def _refill(self, now: float) -> None:
        rate = self.capacity / 60.0
        self.level = min(self.capacity, self.level + (now - self.updated) * rate)
        self.updated = now

    def wait(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` is available (a charge above capacity needs a full bucket)."""
        self._refill(now)
        needed = min(amount, self.capacity)
        if self.level >= needed:
            return 0.0
        return (needed - self.level) * 60.0 / self.capacity

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= amount

    def give(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level = min(self.capacity, self.level + amount)

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.level >= self.capacity


@dataclass(slots=True)
class AccountGate:
    """Holds everyone back when the account itself is nearly out of requests or tokens."""

    clock: Clock
    reserve: float = ACCOUNT_RESERVE
    until: float = 0.0

    def observe(self, headers: Mapping[str, str]) -> None:
        hold = account_hold(headers, self.reserve)
        if hold is not None:
            self.until = max(self.until, self.clock() + hold)

    def wait(self, now: float) -> float:
        return max(0.0, self.until - now)


class _Buckets(dict[int, TokenBucket]):
    """Buckets by key. A full bucket is the same as none, so full ones are forgotten, in sweeps
    spaced so that each insertion costs O(1) amortised."""

    sweep_at = MAX_BUCKETS

    def get_or_add(self, key: int, capacity: int, now: float) -> TokenBucket:
        bucket = self.get(key)
        if bucket is None:
            if len(self) >= self.sweep_at:
                for stale in [k for k, b in self.items() if b.full(now)]:
                    del self[stale]
                self.sweep_at = max(MAX_BUCKETS, 2 * len(self))
            bucket = self[key] = TokenBucket.per_minute(capacity, now)
        return bucket


@dataclass(slots=True)
class LocalLimiter:
    """Per-server requests and tokens per minute, per-user requests per minute, and each
    person's private budget outside servers (``dm_*``); 0 disables one."""

    guild_rpm: int
    guild_tpm: int
    user_rpm: int
    dm_rpm: int = DEFAULT_DM_RPM
    dm_tpm: int = DEFAULT_DM_TPM
    clock: Clock = time.monotonic
    account: AccountGate = field(init=False)
    _requests: _Buckets = field(default_factory=lambda: _Buckets())
    _tokens: _Buckets = field(default_factory=lambda: _Buckets())
    _users: _Buckets = field(default_factory=lambda: _Buckets())

    def __post_init__(self) -> None:
        self.account = AccountGate(self.clock)

    async def acquire(self, scope: int, user_id: int, tokens: int) -> Decision:
        return self.decide(scope, user_id, tokens)

    async def peek(self, scope: int, user_id: int, tokens: int = 0) -> Decision:
        return self.decide(scope, user_id, tokens, charge=False)

    async def settle(self, ticket: Ticket, actual_tokens: int) -> None:
        self.give_back(ticket, actual_tokens)

    async def charge(self, scope: int, tokens: int) -> None:
        self.spend(scope, tokens)

    async def observe(self, headers: Mapping[str, str]) -> None:
        self.account.observe(headers)

    async def close(self) -> None:
        """Nothing to release."""

    def budget(self, scope: int) -> Budget:
        """A server's budget, or a person's private one (a negative scope)."""
        if is_private(scope):
            return Budget(self.dm_rpm, self.dm_tpm, Limit.PRIVATE_REQUESTS, Limit.PRIVATE_TOKENS)
        return Budget(self.guild_rpm, self.guild_tpm, Limit.SERVER_REQUESTS, Limit.SERVER_TOKENS)

    # The same operations, synchronous: the Redis limiter falls back on them without awaiting.

    def decide(self, scope: int, user_id: int, tokens: int, *, charge: bool = True) -> Decision:
        """Grant and charge, or say how long to wait; ``charge=False`` only says (a peek)."""
        now = self.clock()
        budget = self.budget(scope)
        checks: list[tuple[Limit, TokenBucket, float]] = []
        if budget.rpm:
            checks.append((budget.requests, self._requests.get_or_add(scope, budget.rpm, now), 1))
        if budget.tpm:
            checks.append((budget.tokens, self._tokens.get_or_add(scope, budget.tpm, now), tokens))
        if self.user_rpm:
            checks.append(
                (Limit.USER_REQUESTS, self._users.get_or_add(user_id, self.user_rpm, now), 1)
            )
        waits = [(bucket.wait(amount, now), name) for name, bucket, amount in checks]
        waits.append((self.account.wait(now), Limit.ACCOUNT))
        wait, limit = max(waits)  # equal waits: Limit's order
        if wait > 0:
            return Decision(wait=math.ceil(wait * 10) / 10, limit=limit)
        if not charge:
            return Decision(wait=0.0)
        for _, bucket, amount in checks:
            bucket.take(amount, now)
        return Decision(wait=0.0, ticket=Ticket(scope, tokens))

    def give_back(self, ticket: Ticket, actual_tokens: int) -> None:
        bucket = self._tokens.get(ticket.scope)
        if bucket is not None:
            bucket.give(ticket.charged_tokens - actual_tokens, self.clock())

    def spend(self, scope: int, tokens: int) -> None:
        capacity = self.budget(scope).tpm
        if capacity:
            now = self.clock()
            self._tokens.get_or_add(scope, capacity, now).take(tokens, now)
