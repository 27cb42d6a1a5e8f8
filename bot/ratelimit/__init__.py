"""Fair use of the model account: token buckets per server, per person outside servers (DMs and
a user-installed app's places) and per user, plus the account's own limits as OpenAI reports
them in response headers.

:class:`Limiter` is the interface. :class:`LocalLimiter` keeps the buckets in this process;
:class:`RedisLimiter` keeps them in Redis, so that several processes share one account's limits.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .base import (
    ACCOUNT,
    PRIVATE_REQUESTS,
    PRIVATE_TOKENS,
    SERVER_REQUESTS,
    SERVER_TOKENS,
    USER_REQUESTS,
    Budget,
    Clock,
    Decision,
    Limiter,
    Ticket,
    account_hold,
    is_private,
    parse_reset,
    scope_of,
)
from .local import AccountGate, LocalLimiter, TokenBucket
from .redis import RedisLimiter

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "ACCOUNT",
    "PRIVATE_REQUESTS",
    "PRIVATE_TOKENS",
    "SERVER_REQUESTS",
    "SERVER_TOKENS",
    "USER_REQUESTS",
    "AccountGate",
    "Budget",
    "Clock",
    "Decision",
    "Limiter",
    "LocalLimiter",
    "RedisLimiter",
    "Ticket",
    "TokenBucket",
    "account_hold",
    "is_private",
    "limiter_for",
    "parse_reset",
    "scope_of",
]


def limiter_for(settings: Settings) -> Limiter:
    """Buckets in this process, or in Redis (shared by every process) when REDIS_URL is set."""
    limits = {
        "guild_rpm": settings.guild_rpm,
        "guild_tpm": settings.guild_tpm,
        "user_rpm": settings.user_rpm,
        "dm_rpm": settings.dm_rpm,
        "dm_tpm": settings.dm_tpm,
    }
    if settings.redis_url is None:
        return LocalLimiter(**limits)
    limiter = RedisLimiter.from_url(settings.redis_url, prefix=settings.redis_prefix, **limits)
    log.info("Model-usage limits are shared through %s (keys %s*)", limiter.where, limiter.prefix)
    return limiter
