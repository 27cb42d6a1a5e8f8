"""Benchmark: the cost of one limiter decision (acquire, and settle when granted), in process
(target ≤ 20 µs) and in Redis (one script per call, so a round trip each).

python bench/ratelimit.py [--redis-url redis://127.0.0.1:6379/0]

Without --redis-url (or TEST_REDIS_URL) only the in-process limiter is measured. The Redis rows
use keys under a prefix of their own, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis.asyncio import Redis

from bot.core.ratelimit import Limiter, LocalLimiter
from bot.services.ratelimit.redis import RedisLimiter

LOCAL_N = 200_000
REDIS_N = 20_000
CONCURRENCY = 32  # decisions in flight at once, as from many conversations
SCENARIOS = (  # label, (guild_rpm, guild_tpm, user_rpm), servers, users
    ("1 server, 50 users, limits hit often", (30, 60_000, 8), 1, 50),
    ("5,000 servers, 50,000 users", (30, 60_000, 8), 5_000, 50_000),
    ("limits off", (0, 0, 0), 5_000, 50_000),
)


def requests(n: int, servers: int, users: int) -> list[tuple[int, int, int]]:
    rng = random.Random(1)
    return [
        (rng.randrange(servers), rng.randrange(users), rng.randrange(100, 5000)) for _ in range(n)
    ]


async def decide(limiter: Limiter, guild: int, user: int, tokens: int) -> bool:
    decision = await limiter.acquire(guild, user, tokens)
    if decision.ticket is not None:
        await limiter.settle(decision.ticket, tokens // 2)
    return decision.granted


async def sequential(limiter: Limiter, keys: list[tuple[int, int, int]]) -> tuple[float, int]:
    """Microseconds per acquire(+settle), one after the other; how many were granted."""
    started = time.perf_counter()
    granted = 0
    for guild, user, tokens in keys:
        granted += await decide(limiter, guild, user, tokens)
    return (time.perf_counter() - started) / len(keys) * 1e6, granted


async def concurrent(limiter: Limiter, keys: list[tuple[int, int, int]]) -> tuple[float, float]:
    """Decisions per second with CONCURRENCY in flight, and the p99 latency in ms."""
    latencies: list[float] = []
    queue = iter(keys)

    async def worker() -> None:
        for guild, user, tokens in queue:
            started = time.perf_counter()
            await decide(limiter, guild, user, tokens)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    return len(keys) / elapsed, statistics.quantiles(latencies, n=100)[98] * 1e3


async def main(redis_url: str | None) -> None:
    print(f"{'':<46} {'µs per decision':>16} {'granted':>16}")
    for label, limits, servers, users in SCENARIOS:
        per, granted = await sequential(LocalLimiter(*limits), requests(LOCAL_N, servers, users))
        print(f"{'local: ' + label:<46} {per:16.2f} {granted:>8,} of {LOCAL_N:,}")
    if redis_url is None:
        print("Redis: skipped (give --redis-url or TEST_REDIS_URL)")
        return
    prefix = f"threadbot-bench-{secrets.token_hex(4)}:"
    client = Redis.from_url(redis_url)
    try:
        await client.ping()
        started = time.perf_counter()
        for _ in range(REDIS_N // 4):
            await client.ping()
        per = (time.perf_counter() - started) / (REDIS_N // 4) * 1e6
        print(f"{'Redis: one PING (a round trip, for scale)':<46} {per:16.2f}")
        rows = []
        for number, (label, (rpm, tpm, user_rpm), servers, users) in enumerate(SCENARIOS):
            limiter = RedisLimiter.from_url(
                redis_url, guild_rpm=rpm, guild_tpm=tpm, user_rpm=user_rpm,
                prefix=f"{prefix}{number}:",
            )  # fmt: skip
            keys = requests(REDIS_N, servers, users)
            per, granted = await sequential(limiter, keys)
            rate, p99 = await concurrent(limiter, keys)  # the buckets as the first pass left them
            await limiter.close()
            rows.append((label, per, granted, rate, p99))
            late = f"  ({limiter.failures} decided locally: Redis late)" if limiter.failures else ""
            print(f"{'Redis: ' + label:<46} {per:16.2f} {granted:>8,} of {REDIS_N:,}{late}")
        print(f"\nRedis, {CONCURRENCY} decisions in flight:")
        for label, _, _, rate, p99 in rows:
            print(f"  {label:<44} {rate:9,.0f} decisions/s, p99 {p99:.2f} ms")
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL"))
    asyncio.run(main(parser.parse_args().redis_url))
