"""Fair use of the model account: token buckets per server, per person outside servers (DMs and
a user-installed app's places) and per user, plus the account's own limits as OpenAI reports
them in response headers.

:class:`Limiter` is the interface. :class:`LocalLimiter` keeps the buckets in this process;
:class:`~bot.services.ratelimit.redis.RedisLimiter` keeps them in Redis, so that several
processes share one account's limits.
"""

from __future__ import annotations

from bot.core.ratelimit.base import (
    Budget,
    Clock,
    Decision,
    Limit,
    Limiter,
    Ticket,
    account_hold,
    is_private,
    parse_reset,
    scope_of,
)
from bot.core.ratelimit.local import AccountGate, LocalLimiter, TokenBucket
from bot.core.ratelimit.spending import Hold, LocalSpending, Seed, Spending, Verdict, is_on

__all__ = [
    "AccountGate",
    "Budget",
    "Clock",
    "Decision",
    "Hold",
    "Limit",
    "Limiter",
    "LocalLimiter",
    "LocalSpending",
    "Seed",
    "Spending",
    "Ticket",
    "TokenBucket",
    "Verdict",
    "account_hold",
    "is_on",
    "is_private",
    "parse_reset",
    "scope_of",
]
