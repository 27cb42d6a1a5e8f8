"""Shards across processes: whose shards these are, and IDENTIFY spaced through Redis."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.core.settings import SettingsError, load_settings
from bot.core.shards import parse_shard_ids, syncs_commands
from bot.services.identify_gate import IdentifyGate
from tests.fakes.clock import Clock

BASE = {"DISCORD_TOKEN": "x", "OPENAI_API_KEY": "y"}


@pytest.mark.parametrize(
    ("text", "count", "ids"),
    [("0-3", 8, (0, 1, 2, 3)), ("4,6", 8, (4, 6)), ("0-1, 5", 6, (0, 1, 5)), ("2", 3, (2,))],
)
def test_shard_ids(text, count, ids):
    assert parse_shard_ids(text, count) == ids


@pytest.mark.parametrize(("text", "count"), [("4", 4), ("3-1", 8), ("a", 2), ("", 2), ("-1", 2)])
def test_bad_shard_ids(text, count):
    with pytest.raises(ValueError):
        parse_shard_ids(text, count)


def test_settings():
    assert load_settings(BASE).shard_ids is None
    assert load_settings({**BASE, "SHARD_COUNT": "3"}).shard_ids == (0, 1, 2)
    assert load_settings({**BASE, "SHARD_COUNT": "4", "SHARD_IDS": "2-3"}).shard_ids == (2, 3)
    with pytest.raises(SettingsError, match="SHARD_IDS needs SHARD_COUNT"):
        load_settings({**BASE, "SHARD_IDS": "0"})
    with pytest.raises(SettingsError, match="SHARD_IDS"):
        load_settings({**BASE, "SHARD_COUNT": "2", "SHARD_IDS": "2"})


def test_one_process_syncs_commands():
    assert syncs_commands(None) and syncs_commands((0, 1)) and not syncs_commands((2, 3))


async def test_identifies_in_one_bucket_are_spaced_across_processes(redis_space):
    from redis.asyncio import Redis

    gates = [
        IdentifyGate(Redis.from_url(redis_space.url), prefix=redis_space.prefix, spacing=0.3)
        for _ in range(2)
    ]  # two processes
    try:
        started = time.monotonic()
        await asyncio.gather(gates[0].wait(0), gates[1].wait(2))  # bucket 0 (concurrency 1)
        assert time.monotonic() - started >= 0.29  # the second waited for the first's spacing
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        other = IdentifyGate(
            Redis.from_url(redis_space.url), prefix=redis_space.prefix, concurrency=2,
            spacing=0.3, sleep=sleep,
        )  # fmt: skip
        await other.wait(1)  # another bucket: no wait
        assert slept == []
        await other.close()
    finally:
        for gate in gates:
            await gate.close()


class BrokenRedis:
    """Redis refusing connections."""

    def __init__(self) -> None:
        self.calls = 0

    async def set(self, *args, **kwargs):
        self.calls += 1
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    async def pttl(self, key):
        raise AssertionError("not reached")

    async def aclose(self) -> None:
        return None


async def test_identify_falls_back_to_local_spacing_while_redis_fails(caplog):
    clock, slept = Clock(100.0), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    redis = BrokenRedis()
    gate = IdentifyGate(redis, prefix="t:", spacing=5.0, clock=clock, sleep=sleep)  # type: ignore[arg-type]
    await gate.wait(0)  # the first IDENTIFY: no wait
    clock.advance(1.0)
    await gate.wait(0)  # a re-IDENTIFY a second later: the rest of the spacing
    await gate.wait(0)

    assert redis.calls == 3  # Redis was tried each time, never ending the process
    assert slept == [4.0, 5.0]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert (
        len(warnings) == 1 and "spacing IDENTIFYs in this process only" in warnings[0].getMessage()
    )
