"""Fair use of the model account: token buckets per server and per user, plus the account's own
limits as OpenAI reports them in response headers.

:class:`Limiter` is the interface. :class:`LocalLimiter` keeps the buckets in this process;
:class:`RedisLimiter` keeps them in Redis, so that several processes share one account's limits.
"""

from .base import (
    ACCOUNT,
    SERVER_REQUESTS,
    SERVER_TOKENS,
    USER_REQUESTS,
    Clock,
    Decision,
    Limiter,
    Ticket,
    account_hold,
    parse_reset,
    scope_of,
)
from .local import AccountGate, LocalLimiter, TokenBucket

__all__ = [
    "ACCOUNT",
    "SERVER_REQUESTS",
    "SERVER_TOKENS",
    "USER_REQUESTS",
    "AccountGate",
    "Clock",
    "Decision",
    "Limiter",
    "LocalLimiter",
    "Ticket",
    "TokenBucket",
    "account_hold",
    "parse_reset",
    "scope_of",
]
