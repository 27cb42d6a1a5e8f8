"""What every limiter shares: the decision values, the :class:`Limiter` interface, and the
pure reading of OpenAI's account headers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

Clock = Callable[[], float]


class Limit(StrEnum):
    """A limit that refuses a request: the limiter's names, the metrics' ``limit`` label (the
    value, a stable identifier), and what :class:`~bot.core.texts.Texts` tells people.

    The limiter's are declared in the order a tie between equal waits is broken (the last
    wins), which is their values' order too, as ``max()`` over (wait, limit) compares them. A
    person's private budget (DM_RPM, DM_TPM) has limits of its own, ranked as the server's are.
    """

    ACCOUNT = "account"
    PRIVATE_REQUESTS = "private_requests"
    PRIVATE_TOKENS = "private_tokens"
    SERVER_REQUESTS = "server_requests"
    SERVER_TOKENS = "server_tokens"
    USER_REQUESTS = "user_requests"
    # The daily spending budgets in money (bot.core.ratelimit.spending).
    SERVER_BUDGET = "server_budget"
    USER_BUDGET = "user_budget"


ACCOUNT_RESERVE = 0.02  # hold everyone when less than this share of the account limit is left


@dataclass(frozen=True, slots=True)
class Budget:
    """One scope's requests and tokens per minute (0: off), and the limits a refusal names."""

    rpm: int
    tpm: int
    requests: Limit
    tokens: Limit


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a granted request was charged, to correct with the real usage later."""

    scope: int
    charged_tokens: int


@dataclass(frozen=True, slots=True)
class Decision:
    wait: float  # seconds until the request may go; 0 means granted (and charged)
    limit: Limit | None = None  # which limit: SERVER_*, PRIVATE_*, USER_REQUESTS or ACCOUNT
    ticket: Ticket | None = None

    @property
    def granted(self) -> bool:
        return self.ticket is not None


class Limiter(Protocol):
    """Async so that the buckets may live in another process (Redis)."""

    async def acquire(self, scope: int, user_id: int, tokens: int) -> Decision:
        """Grant and charge a request, or say how long to wait and which limit is hit."""
        ...

    async def settle(self, ticket: Ticket, actual_tokens: int) -> None:
        """Correct a granted request's token charge with what it really used."""
        ...

    async def peek(self, scope: int, user_id: int, tokens: int = 0) -> Decision:
        """What :meth:`acquire` would decide now, charging nothing (the decision's ticket is
        None either way): whether a new conversation is worth opening at all."""
        ...

    async def charge(self, scope: int, tokens: int) -> None:
        """Spend tokens that no request was admitted for (summaries): they may put the
        server's budget into debt, which later requests wait out."""
        ...

    async def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the account's remaining quota from a model response's headers."""
        ...

    async def close(self) -> None:
        """Release connections, if any."""
        ...


def scope_of(guild_id: int | None, user_id: int) -> int:
    """The limiter's key: a server's id, or minus the person's id outside any server (their
    DMs with the bot, and the places a user-installed app answers in), one private budget
    per person whatever the place."""
    return guild_id if guild_id is not None else -user_id


def is_private(scope: int) -> bool:
    """A person's private scope (see :func:`scope_of`), limited by DM_RPM and DM_TPM rather
    than a server's budget: one person needs far less than a server full of people."""
    return scope < 0


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str) -> float | None:
    """OpenAI's reset headers: `1s`, `6m0s`, `20ms`, `1h2m3.5s`."""
    parts = _DURATION.findall(value.strip())
    if not parts:
        return None
    return sum(float(number) * _UNIT[unit] for number, unit in parts)


def account_hold(headers: Mapping[str, str], reserve: float = ACCOUNT_RESERVE) -> float | None:
    """Seconds everyone must wait because the account is nearly out of requests or tokens;
    None when the headers show no shortage (or none of OpenAI's headers)."""
    hold: float | None = None
    for kind in ("requests", "tokens"):
        limit = _number(headers.get(f"x-ratelimit-limit-{kind}"))
        remaining = _number(headers.get(f"x-ratelimit-remaining-{kind}"))
        reset = parse_reset(headers.get(f"x-ratelimit-reset-{kind}", ""))
        if limit is None or remaining is None or reset is None:
            continue
        if remaining <= max(1.0, limit * reserve):
            hold = reset if hold is None else max(hold, reset)
    return hold


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
