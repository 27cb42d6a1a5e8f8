"""Fair use of the model account: token buckets per server and per user, plus the account's own
limits as OpenAI reports them in response headers.

Pure and Discord-free; time comes from a clock so tests need no sleeping. Each decision is O(1).
:class:`Limiter` is the interface, so a Redis-backed limiter can replace :class:`LocalLimiter`
when several processes share one account.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

Clock = Callable[[], float]
MAX_BUCKETS = 10_000  # idle (full) buckets are forgotten past this many


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


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a granted request was charged, to correct with the real usage later."""

    scope: int
    charged_tokens: int


@dataclass(frozen=True, slots=True)
class Decision:
    wait: float  # seconds until the request may go; 0 means granted (and charged)
    limit: str | None = (
        None  # which limit: "server requests", "server tokens", "your requests", "account"
    )
    ticket: Ticket | None = None

    @property
    def granted(self) -> bool:
        return self.ticket is not None


class Limiter(Protocol):
    def acquire(self, scope: int, user_id: int, tokens: int) -> Decision:
        """Grant and charge a request, or say how long to wait and which limit is hit."""
        ...

    def settle(self, ticket: Ticket, actual_tokens: int) -> None:
        """Correct a granted request's token charge with what it really used."""
        ...

    def charge(self, scope: int, tokens: int) -> None:
        """Spend tokens that no request was admitted for (summaries): they may put the
        server's budget into debt, which later requests wait out."""
        ...

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the account's remaining quota from a model response's headers."""
        ...


def scope_of(guild_id: int | None, user_id: int) -> int:
    """The limiter's key for a server; a DM counts as its own server."""
    return guild_id if guild_id is not None else -user_id


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str) -> float | None:
    """OpenAI's reset headers: `1s`, `6m0s`, `20ms`, `1h2m3.5s`."""
    parts = _DURATION.findall(value.strip())
    if not parts:
        return None
    return sum(float(number) * _UNIT[unit] for number, unit in parts)


@dataclass(slots=True)
class AccountGate:
    """Holds everyone back when the account itself is nearly out of requests or tokens."""

    clock: Clock
    reserve: float = 0.02  # hold when less than this share of the account limit is left
    until: float = 0.0

    def observe(self, headers: Mapping[str, str]) -> None:
        for kind in ("requests", "tokens"):
            limit = _number(headers.get(f"x-ratelimit-limit-{kind}"))
            remaining = _number(headers.get(f"x-ratelimit-remaining-{kind}"))
            reset = parse_reset(headers.get(f"x-ratelimit-reset-{kind}", ""))
            if limit is None or remaining is None or reset is None:
                continue
            if remaining <= max(1.0, limit * self.reserve):
                self.until = max(self.until, self.clock() + reset)

    def wait(self, now: float) -> float:
        return max(0.0, self.until - now)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


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
    """Per-server requests and tokens per minute, per-user requests per minute; 0 disables one."""

    guild_rpm: int
    guild_tpm: int
    user_rpm: int
    clock: Clock = time.monotonic
    account: AccountGate = field(init=False)
    _requests: _Buckets = field(default_factory=lambda: _Buckets())
    _tokens: _Buckets = field(default_factory=lambda: _Buckets())
    _users: _Buckets = field(default_factory=lambda: _Buckets())

    def __post_init__(self) -> None:
        self.account = AccountGate(self.clock)

    def acquire(self, scope: int, user_id: int, tokens: int) -> Decision:
        now = self.clock()
        checks: list[tuple[str, TokenBucket, float]] = []
        if self.guild_rpm:
            checks.append(
                ("server requests", self._requests.get_or_add(scope, self.guild_rpm, now), 1)
            )
        if self.guild_tpm:
            checks.append(
                ("server tokens", self._tokens.get_or_add(scope, self.guild_tpm, now), tokens)
            )
        if self.user_rpm:
            checks.append(("your requests", self._users.get_or_add(user_id, self.user_rpm, now), 1))
        waits = [(bucket.wait(amount, now), name) for name, bucket, amount in checks]
        waits.append((self.account.wait(now), "account"))
        wait, limit = max(waits)
        if wait > 0:
            return Decision(wait=math.ceil(wait * 10) / 10, limit=limit)
        for _, bucket, amount in checks:
            bucket.take(amount, now)
        return Decision(wait=0.0, ticket=Ticket(scope, tokens))

    def settle(self, ticket: Ticket, actual_tokens: int) -> None:
        bucket = self._tokens.get(ticket.scope)
        if bucket is not None:
            bucket.give(ticket.charged_tokens - actual_tokens, self.clock())

    def charge(self, scope: int, tokens: int) -> None:
        if self.guild_tpm:
            now = self.clock()
            self._tokens.get_or_add(scope, self.guild_tpm, now).take(tokens, now)

    def observe(self, headers: Mapping[str, str]) -> None:
        self.account.observe(headers)
