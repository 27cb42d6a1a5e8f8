"""Discord's REST budget shared by every process through Redis (and its local fallback)."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.pacing import Pacer
from bot.rest_budget import RedisRestBudget


def budget(space, rate=10, reserve=3):
    return RedisRestBudget(Redis.from_url(space.url), Pacer(rate=rate, reserve=reserve),
                           prefix=space.prefix)  # fmt: skip


async def test_two_processes_together_stay_within_the_rate(redis_space):
    processes = [budget(redis_space), budget(redis_space)]
    try:
        delays = []
        for i in range(25):  # priority requests from both processes, all at once
            granted, delay = await processes[i % 2].slot(priority=True)
            assert granted
            delays.append(delay)
        delays.sort()
        # However the two interleave, no second holds more than 10 slots in all.
        assert all(delays[i + 10] - delays[i] >= 0.95 for i in range(len(delays) - 10))
        assert delays[9] < 0.1 and delays[10] >= 0.95  # ten at once, the eleventh a second on
    finally:
        for process in processes:
            await process.close()


async def test_low_priority_requests_leave_the_reserve_to_others(redis_space):
    one, other = budget(redis_space), budget(redis_space)
    try:
        assert all([(await one.slot(priority=False))[0] for _ in range(7)])  # 10 - 3 reserved
        granted, hint = await other.slot(priority=False)
        assert not granted and 0 < hint <= 1.0
        assert (await other.slot(priority=True)) == (True, 0.0)  # the reserve is there
    finally:
        await one.close()
        await other.close()


async def test_without_redis_each_process_paces_itself():
    lone = RedisRestBudget(Redis.from_url("redis://127.0.0.1:9/0", socket_timeout=0.2,
                                          socket_connect_timeout=0.2),
                           Pacer(rate=5, reserve=1), prefix="none:")  # fmt: skip
    try:
        assert [(await lone.slot(priority=True))[0] for _ in range(3)] == [True] * 3
    finally:
        await lone.close()
