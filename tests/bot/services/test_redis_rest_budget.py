"""Discord's REST budget shared by every process through Redis (and its local fallback)."""

from __future__ import annotations

import asyncio
import math

from redis.asyncio import Redis

from bot.core.pacing import Pacer
from bot.services.redis_rest_budget import RedisRestBudget


async def slot(budget, *, priority):
    """One place: (its ticket or None, the hint)."""
    tickets, hint = await budget.slots(priority=priority, count=1)
    return (tickets[0] if tickets else None), hint


def budget(space, rate=10, reserve=3):
    return RedisRestBudget(Redis.from_url(space.url), Pacer(rate=rate, reserve=reserve),
                           prefix=space.prefix)  # fmt: skip


async def test_two_processes_together_stay_within_the_rate(redis_space):
    processes = [budget(redis_space), budget(redis_space)]
    try:
        tickets = []
        for i in range(10):  # priority requests from both processes, all at once
            ticket, delay = await slot(processes[i % 2], priority=True)
            assert ticket is not None and delay == 0.0
            tickets.append(ticket)
        assert len(set(tickets)) == 10
        assert await slot(processes[0], priority=True) == (None, math.inf)  # all in flight
        for i, ticket in enumerate(tickets):
            await processes[i % 2].done(ticket)
        ticket, hint = await slot(processes[1], priority=True)
        assert ticket is None and 0.9 <= hint <= 1.0  # a window after the first answer
        await asyncio.sleep(hint + 0.01)
        assert (await slot(processes[1], priority=True))[0] is not None
    finally:
        for process in processes:
            await process.close()


async def test_low_priority_requests_leave_the_reserve_to_others(redis_space):
    one, other = budget(redis_space), budget(redis_space)
    try:
        for _ in range(7):  # 10 - 3 reserved
            ticket, _ = await slot(one, priority=False)
            assert ticket is not None
            await one.done(ticket)
        ticket, hint = await slot(other, priority=False)
        assert ticket is None and 0 < hint <= 1.0
        assert not other.pacer.peek()[0]  # so its progress edits are skipped, not queued
        ticket, delay = await slot(other, priority=True)  # the reserve is there
        assert ticket is not None and delay == 0.0
    finally:
        await one.close()
        await other.close()


async def test_without_redis_each_process_paces_itself():
    lone = RedisRestBudget(Redis.from_url("redis://127.0.0.1:9/0", socket_timeout=0.2,
                                          socket_connect_timeout=0.2),
                           Pacer(rate=5, reserve=1), prefix="none:")  # fmt: skip
    try:
        tickets = [(await slot(lone, priority=True))[0] for _ in range(6)]
        assert all(isinstance(t, float) for t in tickets[:5]) and tickets[5] is None
        await lone.done(tickets[0])  # settled in the local pacer it came from
        assert len(lone.pacer._in_flight) == 4
    finally:
        await lone.close()


async def test_a_request_in_flight_holds_its_place_until_a_window_after_its_answer(redis_space):
    one = budget(redis_space, rate=3, reserve=1)
    try:
        tickets = [(await slot(one, priority=True))[0] for _ in range(3)]
        await asyncio.sleep(1.1)  # a slow answer: still counted, however long it takes
        assert await slot(one, priority=True) == (None, math.inf)
        await one.done(tickets[0])
        ticket, hint = await slot(one, priority=True)
        assert ticket is None and 0.9 <= hint <= 1.0  # Discord may have counted it until now
    finally:
        await one.close()


async def test_places_for_everyone_waiting_in_one_trip(redis_space):
    one = budget(redis_space, rate=10, reserve=3)
    try:
        tickets, hint = await one.slots(priority=True, count=12)
        assert len(set(tickets)) == 10 and hint == math.inf  # all ten in flight
        tickets, hint = await one.slots(priority=False, count=5)
        assert tickets == [] and hint == math.inf
        assert not one.pacer.peek()[0]
    finally:
        await one.close()
