"""The limiter and the spending budgets for these settings: in this process, or in Redis when
``REDIS_URL`` is set (shared by every process)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.core.ratelimit import Limiter, LocalLimiter, LocalSpending, Seed, Spending, is_on
from bot.core.settings import redacted_url
from bot.services.ratelimit.redis import RedisLimiter, RedisSpending

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.core.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["RedisLimiter", "RedisSpending", "limiter_for", "spending_for"]


def limiter_for(settings: Settings, redis: Redis | None) -> Limiter:
    """Buckets in this process, or in Redis (shared by every process) on the process's client
    ``redis``, which there is when REDIS_URL is set."""
    limits = {
        "guild_rpm": settings.guild_rpm,
        "guild_tpm": settings.guild_tpm,
        "user_rpm": settings.user_rpm,
        "dm_rpm": settings.dm_rpm,
        "dm_tpm": settings.dm_tpm,
    }
    if redis is None or settings.redis_url is None:
        return LocalLimiter(**limits)
    limiter = RedisLimiter(
        redis, prefix=settings.redis_prefix, where=redacted_url(settings.redis_url), **limits
    )
    log.info("Model-usage limits are shared through %s (keys %s*)", limiter.where, limiter.prefix)
    return limiter


def spending_for(settings: Settings, limiter: Limiter, seed: Seed | None) -> Spending | None:
    """The daily spending budgets (None when neither is set): in Redis, on the limiter's
    client, when REDIS_URL is set; else in this process, seeded from the stored usage."""
    user, guild = settings.user_daily_budget, settings.guild_daily_budget
    if not is_on(user, guild):
        return None
    if isinstance(limiter, RedisLimiter):
        log.info("Daily spending budgets are shared through %s", limiter.where)
        return RedisSpending(
            limiter.client, user_budget=user, guild_budget=guild, seed=seed,
            prefix=limiter.prefix, where=limiter.where,
        )  # fmt: skip
    return LocalSpending(user, guild, seed=seed)
