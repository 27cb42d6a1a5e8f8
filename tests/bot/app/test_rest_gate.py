"""The gate every REST request passes: lines in order, and each request settled as it ends."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.app.rest_gate import trace_config
from bot.core.pacing import Pacer
from bot.core.rest_budget import Gate, LocalBudget, low_priority
from tests.fakes.clock import Clock


@contextlib.asynccontextmanager
async def serve() -> AsyncIterator[str]:
    """A local stand-in for Discord's REST API that answers every GET with ``{}``."""

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/api/v10/{path:.*}", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/v10"
    finally:
        await runner.cleanup()


async def test_each_line_goes_first_come_first_served():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=4, reserve=2)
    gate = Gate(LocalBudget(pacer), sleep=clock.sleep)
    order: list[str] = []

    async def request(name: str, priority: bool) -> None:
        ticket = await gate.enter(priority=priority)
        order.append(name)
        await gate.leave(ticket)

    await asyncio.gather(*(request(f"p{i}", True) for i in range(10)))
    assert order == [f"p{i}" for i in range(10)]


async def test_progress_waits_while_first_posts_take_the_reserve():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=4, reserve=2)
    gate = Gate(LocalBudget(pacer), sleep=clock.sleep)
    held = [await gate.enter(priority=False) for _ in range(2)]  # the non-reserved places
    progress = asyncio.create_task(gate.enter(priority=False))
    await asyncio.sleep(0)
    first_posts = [await gate.enter(priority=True) for _ in range(2)]  # the reserve
    assert not progress.done()
    for ticket in held + first_posts:
        await gate.leave(ticket)
    assert isinstance(await progress, float)


async def test_requests_are_charged_as_they_leave_and_settled_when_they_end():
    """A request answered and one that fails both settle: nothing stays in flight."""
    pacer = Pacer(rate=20, reserve=5)
    seen: list[int] = []

    async def count(*_: object) -> None:
        seen.append(len(pacer._in_flight))

    config = trace_config(Gate(LocalBudget(pacer)))
    config.on_request_headers_sent.append(count)
    async with serve() as base, aiohttp.ClientSession(trace_configs=[config]) as http:
        async with http.get(f"{base}/ok") as response:
            assert response.status == 200
        with low_priority():
            async with http.get(f"{base}/ok"):
                pass
        async with http.get(f"{base}/interactions/1/x/callback"):  # exempt
            pass
        with socket.socket() as closed:  # bound, not listening: the connection is refused
            closed.bind(("127.0.0.1", 0))
            refused = f"http://127.0.0.1:{closed.getsockname()[1]}/api/v10/ok"
            with pytest.raises(aiohttp.ClientConnectionError):
                async with http.get(refused):
                    pass
    assert seen == [1, 1, 0]  # charged while in flight; the exempt one not at all
    assert not pacer._in_flight and len(pacer._answered) == 3  # the failed one settled too


async def test_a_request_made_on_a_slot_taken_first_is_charged_once():
    pacer = Pacer(rate=20, reserve=5)
    gate = Gate(LocalBudget(pacer))
    async with serve() as base, aiohttp.ClientSession(trace_configs=[trace_config(gate)]) as http:
        async with gate.paid():
            assert len(pacer._in_flight) == 1  # taken before the request is made
            async with http.get(f"{base}/ok"):
                pass
        async with gate.paid():  # a slot never used still counts, as if sent
            pass
    assert not pacer._in_flight and len(pacer._answered) == 2


async def test_a_request_that_stops_waiting_leaves_no_place_taken():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=2, reserve=1)
    gate = Gate(LocalBudget(pacer), sleep=clock.sleep)
    held = [await gate.enter(priority=True) for _ in range(2)]
    waiting = asyncio.create_task(gate.enter(priority=True))
    behind = asyncio.create_task(gate.enter(priority=True))
    await asyncio.sleep(0)
    waiting.cancel()  # e.g. the reply was stopped while its post waited
    for ticket in held:
        await gate.leave(ticket)
    ticket = await behind  # the place went to the next in line
    await gate.leave(ticket)
    await asyncio.sleep(0)
    assert waiting.cancelled() and not pacer._in_flight
