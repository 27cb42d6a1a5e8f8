"""One place builds a process's resources: with Redis, one client serves everything."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.app.wiring import build_core, build_services
from bot.core.ratelimit import LocalLimiter
from bot.core.settings import load_settings

BASE = {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "sk-test"}


def settings_for(tmp_path, **env: str):
    return load_settings({**BASE, "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}", **env})


async def test_with_redis_one_client_serves_every_user_of_redis(tmp_path, monkeypatch):
    made: list[Redis] = []
    from_url = Redis.from_url

    def counted(*args, **kwargs) -> Redis:
        made.append(from_url(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(Redis, "from_url", counted)
    settings = settings_for(
        tmp_path, REDIS_URL="redis://127.0.0.1:1/0", SHARD_COUNT="2", SHARD_IDS="0",
        USER_DAILY_BUDGET="1", MODEL_PRICES="gpt-4o-mini=0.15/0.6",
    )  # fmt: skip
    services = build_services(settings)
    await services.store.open()
    try:
        core = await build_core(services)
        assert made == [services.redis]  # nothing else opened a client of its own
        assert services.limiter.client is services.redis  # type: ignore[attr-defined]
        assert services.rest_budget is not None and services.rest_budget.client is services.redis
        assert services.identify_gate is not None
        assert services.identify_gate.client is services.redis
        assert core.spending is not None and core.spending.client is services.redis  # type: ignore[attr-defined]
    finally:
        await services.close()
        await services.store.close()


async def test_without_redis_nothing_is_shared_and_nothing_opens_a_client(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise AssertionError("no Redis client without REDIS_URL")

    monkeypatch.setattr(Redis, "from_url", refused)
    services = build_services(settings_for(tmp_path))
    assert services.redis is None and services.rest_budget is None
    assert services.identify_gate is None and isinstance(services.limiter, LocalLimiter)
    await services.close()


@pytest.mark.parametrize("shards", [{}, {"SHARD_COUNT": "2", "SHARD_IDS": "1"}])
async def test_the_identify_gate_is_there_only_for_shards_with_redis(tmp_path, shards):
    services = build_services(settings_for(tmp_path, REDIS_URL="redis://127.0.0.1:1/0", **shards))
    assert (services.identify_gate is not None) == bool(shards)
    await services.close()
