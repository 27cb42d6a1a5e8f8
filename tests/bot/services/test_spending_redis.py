"""The daily spending budgets in Redis: the local budgets' decisions, shared by processes, keys
that live to the end of the UTC day, and a Redis that fails (the local budget, never a pass)."""

from __future__ import annotations

import logging
import random

import pytest
from redis.asyncio import Redis

from bot.core.ratelimit import Limit, LocalSpending
from bot.core.ratelimit.spending import DAY, Hold
from bot.core.settings import load_settings
from bot.services.ratelimit import spending_for
from bot.services.ratelimit.redis import RETRY_AFTER, RedisSpending
from tests.bot.core.test_spending import NOON
from tests.bot.services.test_ratelimit_redis import Relay
from tests.databases import RedisSpace
from tests.fakes.clock import Clock


def shared(space: RedisSpace, wall: Clock, **options) -> RedisSpending:
    """A budget with a client of its own, as another process would have, on this prefix."""
    options.setdefault("timeout", 2.0)  # a loaded test machine must not look like an outage
    return RedisSpending(Redis.from_url(space.url), prefix=space.prefix, clock=wall, **options)


async def test_the_same_decisions_as_the_local_budgets(redis_space: RedisSpace):
    rng = random.Random(3)
    wall = Clock(NOON)
    local = LocalSpending(1.0, 3.0, clock=wall)
    redis = shared(redis_space, wall, user_budget=1.0, guild_budget=3.0)
    holds: list[tuple[Hold, Hold]] = []
    outcomes = {True: 0, False: 0}
    for step in range(400):
        roll = rng.random()
        if roll < 0.6:
            user, guild = rng.choice([1, 2, 3]), rng.choice([None, 10, 11])
            amount = rng.choice([0.01, 0.1, 0.25, 0.5])
            mine, theirs = (
                await local.reserve(user, guild, amount),
                await redis.reserve(user, guild, amount),
            )
            assert (mine.over, mine.resets_in) == (theirs.over, theirs.resets_in), f"step {step}"
            outcomes[mine.hold is not None] += 1
            if mine.hold is not None and theirs.hold is not None:
                holds.append((mine.hold, theirs.hold))
        elif roll < 0.85 and holds:
            (mine_hold, their_hold), actual = holds.pop(rng.randrange(len(holds))), rng.random() / 4
            await local.settle(mine_hold, actual)
            await redis.settle(their_hold, actual)
        elif roll < 0.95:
            user, guild, amount = rng.choice([1, 2]), rng.choice([None, 10]), rng.random() / 10
            await local.charge(user, guild, amount)
            await redis.charge(user, guild, amount)
        else:
            wall.now += rng.choice([600.0, 3600.0, 6 * 3600.0])
        for user, guild in ((1, 10), (2, None)):
            assert await redis.spent(user, guild) == pytest.approx(await local.spent(user, guild))
    assert min(outcomes.values()) > 30, outcomes  # both grants and refusals were compared
    assert redis.failures == 0
    await redis.client.aclose()


async def test_two_processes_share_one_persons_budget_and_keys_end_with_the_day(redis_space):
    wall = Clock(NOON)
    one = shared(redis_space, wall, user_budget=1.0, guild_budget=None)
    two = shared(redis_space, wall, user_budget=1.0, guild_budget=None)
    assert (await one.reserve(7, 5, 0.6)).hold is not None
    refused = await two.reserve(7, None, 0.6)  # the other process sees the first's reservation
    assert refused.over == Limit.USER_BUDGET and refused.resets_in == 12 * 3600
    day = int(NOON // DAY)
    key = f"{redis_space.prefix}spend:{day}:user:7"
    assert await redis_space.keys() == {key, f"{redis_space.prefix}spend:{day}:server:5"}
    ttl = await redis_space.client.pttl(key)
    assert 12 * 3600 * 1000 < ttl <= 13 * 3600 * 1000  # the day's end, and an hour's margin
    wall.now += 12 * 3600  # midnight: a new key, a new day
    assert (await two.reserve(7, None, 0.6)).hold is not None
    assert await one.spent(7, None) == (pytest.approx(0.6), 0.0)
    for budget in (one, two):
        await budget.client.aclose()


async def test_without_redis_the_process_keeps_the_budget_alone_from_the_stored_spend(caplog):
    async def seed(kind, number, day):
        return 0.9  # what the store says this person spent today

    wall = Clock(NOON)
    down = RedisSpending(
        Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5), user_budget=1.0,
        guild_budget=None, seed=seed, clock=wall, timeout=0.5,
    )  # fmt: skip
    refused = await down.reserve(7, None, 0.2)  # never a free pass past the local budget
    assert refused.hold is None and refused.over == Limit.USER_BUDGET and down.down
    granted = await down.reserve(7, None, 0.05)
    assert granted.hold is not None and not granted.hold.shared
    await down.settle(granted.hold, 0.01)
    await down.charge(7, None, 0.02)
    assert await down.spent(7, None) == (pytest.approx(0.93), 0.0)
    assert "keeps the spending budgets alone" in caplog.text
    await down.client.aclose()


def test_budgets_are_off_unless_set_and_in_redis_when_it_is():
    settings = load_settings({"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k"})
    assert spending_for(settings, None, None) is None  # type: ignore[arg-type]
    settings = load_settings(
        {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", "USER_DAILY_BUDGET": "$2.50",
         "GUILD_DAILY_BUDGET": "10", "MODELS": "gpt-4o-mini*, gpt-4o"}
    )  # fmt: skip
    assert (settings.user_daily_budget, settings.guild_daily_budget) == (2.5, 10.0)
    assert settings.models == ("gpt-4o-mini", "gpt-4o") and settings.open_models == ("gpt-4o-mini",)
    assert isinstance(spending_for(settings, None, None), LocalSpending)  # type: ignore[arg-type]


async def test_redis_back_after_an_outage_shares_the_budgets_again(redis_space, caplog):
    caplog.set_level(logging.INFO, logger="bot.services.ratelimit.redis")
    relay = Relay(redis_space.url)
    await relay.start()
    wall, monotonic = Clock(NOON), Clock(500.0)
    budget = RedisSpending(
        Redis.from_url(relay.url, socket_timeout=1.0), user_budget=1.0, guild_budget=None,
        prefix=redis_space.prefix, clock=wall, monotonic=monotonic, timeout=1.0,
    )  # fmt: skip
    assert (await budget.reserve(7, None, 0.5)).hold.shared  # type: ignore[union-attr]
    await relay.stop()  # down: this process decides alone, from its own (empty) count
    alone = await budget.reserve(7, None, 0.5)
    assert alone.hold is not None and not alone.hold.shared and budget.down
    assert (await budget.reserve(7, None, 0.6)).over == Limit.USER_BUDGET  # the local budget holds
    await budget.settle(alone.hold, 0.1)
    await relay.start()
    monotonic.now += RETRY_AFTER
    refused = await budget.reserve(7, None, 0.6)  # Redis again: 0.5 spent there, not 0.1
    assert refused.over == Limit.USER_BUDGET and not budget.down
    assert (await budget.reserve(7, None, 0.5)).hold is not None
    assert "answers again: the spending budgets are shared again" in caplog.text
    await budget.client.aclose()
    await relay.stop()
