"""The Redis limiter beyond the shared scenarios: the local limiter's decisions exactly, shared by
processes, keys that expire, and a Redis that goes away and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from urllib.parse import urlsplit

import pytest

from bot.core.ratelimit import Limit, LocalLimiter, Ticket
from bot.core.settings import load_settings
from bot.services.ratelimit import limiter_for
from bot.services.ratelimit.redis import RETRY_AFTER, TIMEOUT, RedisLimiter
from bot.services.redis_client import redis_client
from tests.databases import RedisSpace
from tests.fakes.clock import Clock


async def test_the_same_decisions_as_the_local_limiter(redis_space: RedisSpace):
    rng = random.Random(7)
    clock = Clock(500.0)
    local = LocalLimiter(5, 2000, 3, dm_rpm=4, dm_tpm=2500, clock=clock)
    shared = redis_space.limiter(
        guild_rpm=5, guild_tpm=2000, user_rpm=3, dm_rpm=4, dm_tpm=2500, clock=clock
    )
    tickets: list[Ticket] = []
    outcomes = {True: 0, False: 0}
    for step in range(600):
        roll = rng.random()
        if roll < 0.55:
            scope, user = rng.choice([1, 2, -11]), rng.choice([10, 11, 12])
            tokens = rng.choice([1, 150, 700, 1999, 2500])
            decision = await local.acquire(scope, user, tokens)
            assert await shared.acquire(scope, user, tokens) == decision, f"step {step}"
            outcomes[decision.granted] += 1
            if decision.ticket is not None:
                tickets.append(decision.ticket)
        elif roll < 0.7 and tickets:
            ticket, actual = tickets.pop(rng.randrange(len(tickets))), rng.randrange(3000)
            await local.settle(ticket, actual)
            await shared.settle(ticket, actual)
        elif roll < 0.78:
            scope, tokens = rng.choice([1, 2, -11]), rng.randrange(1, 1500)
            await local.charge(scope, tokens)
            await shared.charge(scope, tokens)
        elif roll < 0.8:
            headers = {"x-ratelimit-limit-requests": "500",
                       "x-ratelimit-remaining-requests": rng.choice(["3", "300"]),
                       "x-ratelimit-reset-requests": rng.choice(["20ms", "1.5s", "7s"])}  # fmt: skip
            await local.observe(headers)
            await shared.observe(headers)
        else:
            clock.now += rng.choice([0.05, 0.1, 0.3, 1.0, 2.5, 7.0, 12.0, 20.0, 61.0])
    assert min(outcomes.values()) > 50, outcomes  # both grants and refusals were compared
    assert shared.failures == 0
    await shared.close()


async def test_two_processes_together_admit_exactly_the_servers_requests(redis_space):
    """On the Redis server's own clock: neither process's clock matters."""
    first, second = (redis_space.limiter(guild_rpm=30, guild_tpm=0, user_rpm=0) for _ in "12")
    decisions = await asyncio.gather(
        *(limiter.acquire(1, user, 1) for user in range(60) for limiter in (first, second))
    )
    assert sum(decision.granted for decision in decisions) == 30
    refused = [decision for decision in decisions if not decision.granted]
    assert {decision.limit for decision in refused} == {Limit.SERVER_REQUESTS}
    assert all(1.5 <= decision.wait <= 2.0 for decision in refused)  # 30 a minute: one in 2 s
    assert (await second.acquire(2, 99, 1)).granted  # another server
    for limiter in (first, second):
        assert limiter.failures == 0
        await limiter.close()


async def test_idle_buckets_expire_and_full_ones_are_deleted(redis_space):
    limiter = redis_space.limiter(guild_rpm=3, guild_tpm=1000, user_rpm=2)
    ticket = (await limiter.acquire(1, 10, 900)).ticket
    assert ticket is not None
    prefix = redis_space.prefix
    ttls = {key: await redis_space.client.pttl(key) for key in await redis_space.keys()}
    # Expiring when the bucket would be full again (20 s, 54 s, 30 s), plus a minute's margin.
    assert ttls.keys() == {f"{prefix}rpm:1", f"{prefix}tpm:1", f"{prefix}user:10"}
    assert 60_000 < ttls[f"{prefix}rpm:1"] <= 80_000
    assert 60_000 < ttls[f"{prefix}tpm:1"] <= 114_000
    assert 60_000 < ttls[f"{prefix}user:10"] <= 90_000
    await limiter.settle(ticket, 0)  # nothing used: the token bucket is full, so it goes
    assert await redis_space.keys() == {f"{prefix}rpm:1", f"{prefix}user:10"}
    await limiter.observe({"x-ratelimit-limit-tokens": "10000", "x-ratelimit-remaining-tokens": "0",
                           "x-ratelimit-reset-tokens": "2s"})  # fmt: skip
    assert 60_000 < await redis_space.client.pttl(f"{prefix}account") <= 62_000
    await limiter.close()


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "bot.services.ratelimit.redis"
    ]


class Relay:
    """A TCP relay in front of the test Redis, on a port of its own: stopped, connections to
    it are refused and open ones drop (Redis went away); stalled, it accepts and never
    answers (Redis hangs); started again on the same port, Redis is back."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.path = parts.path
        self.port = 0
        self.stalled = False
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self.path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            if self.stalled:
                await reader.read()  # until the client gives up
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._open.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def test_without_redis_decisions_are_local_then_shared_again(redis_space, caplog):
    caplog.set_level(logging.INFO, logger="bot.services.ratelimit.redis")
    relay = Relay(redis_space.url)
    await relay.start()
    clock = Clock(500.0)
    limiter = RedisLimiter.from_url(relay.url, guild_rpm=2, guild_tpm=1000, user_rpm=0,
                                    prefix=redis_space.prefix, clock=clock)  # fmt: skip
    key = f"{redis_space.prefix}rpm:1"
    assert (await limiter.acquire(1, 10, 1)).granted
    shared_state = await redis_space.client.get(key)
    assert shared_state is not None and not limiter.down

    await relay.stop()  # Redis goes away: this process decides alone, at once
    started = time.perf_counter()
    assert (await limiter.acquire(1, 10, 1)).granted  # the local buckets are its own
    assert limiter.down
    await limiter.charge(1, 1000)  # spent locally too
    refused = await limiter.acquire(1, 10, 1)
    assert refused.limit == Limit.SERVER_TOKENS
    assert time.perf_counter() - started < 1.0
    ((level, message),) = logged(caplog)
    assert level == logging.WARNING and "unreachable" in message
    assert "keeps the limits alone" in message

    await relay.start()  # Redis is back, but the back-off has not passed: still local
    assert not (await limiter.acquire(1, 10, 1)).granted
    assert await redis_space.client.get(key) == shared_state
    clock.now += RETRY_AFTER
    assert (await limiter.acquire(1, 10, 1)).granted  # Redis's bucket: 1 of 2 used 5 s ago
    assert not limiter.down and await redis_space.client.get(key) != shared_state
    level, message = logged(caplog)[-1]
    assert level == logging.INFO and "answers again" in message

    relay.stalled = True  # Redis hangs: a decision waits at most TIMEOUT for it
    await relay.stop()
    await relay.start()
    started = time.perf_counter()
    decision = await limiter.acquire(2, 10, 1)
    assert decision.granted and limiter.down
    assert time.perf_counter() - started < TIMEOUT + 0.4
    levels = [level for level, _ in logged(caplog)]
    assert levels == [logging.WARNING, logging.INFO, logging.WARNING]  # a new outage, logged
    clock.now += RETRY_AFTER  # one call tries the hung Redis again; the others don't wait
    failures = limiter.failures
    decisions = await asyncio.gather(*(limiter.acquire(10 + n, n, 1) for n in range(10)))
    assert all(decision.granted for decision in decisions)
    assert limiter.failures == failures + 1 and len(logged(caplog)) == 3
    await limiter.close()
    await relay.stop()


async def test_redis_url_chooses_the_shared_limiter(redis_space):
    env = {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", "GUILD_RPM": "7"}
    assert isinstance(limiter_for(load_settings(env), None), LocalLimiter)
    limiter = limiter_for(
        load_settings({**env, "REDIS_URL": redis_space.url, "REDIS_PREFIX": redis_space.prefix}),
        redis_client(redis_space.url),
    )
    assert isinstance(limiter, RedisLimiter) and limiter.guild_rpm == 7
    assert (await limiter.acquire(1, 10, 1)).granted
    assert f"{redis_space.prefix}rpm:1" in await redis_space.keys()
    await limiter.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_closed_port_is_an_outage_not_an_error(caplog):
    """No Redis at all (nothing listens there): every decision is made, none raises."""
    limiter = RedisLimiter.from_url(f"redis://127.0.0.1:{closed_port()}/0", guild_rpm=1,
                                    guild_tpm=0, user_rpm=0, prefix="threadbot-test-closed:")  # fmt: skip
    assert (await limiter.acquire(1, 10, 1)).granted
    assert (await limiter.acquire(1, 10, 1)).limit == Limit.SERVER_REQUESTS
    await limiter.observe({"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "1",
                           "x-ratelimit-reset-requests": "30s"})  # fmt: skip
    assert (await limiter.acquire(2, 10, 1)).limit == Limit.ACCOUNT
    assert limiter.down and limiter.failures == 1  # one try; the others waited out the back-off
    assert [level for level, _ in logged(caplog)] == [logging.WARNING]
    await limiter.close()
