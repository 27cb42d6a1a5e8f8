"""End to end with METRICS_PORT: one reply through both fakes shows up in /metrics (with the
Discord 429 it met), /healthz and /readyz answer, the Dockerfile's HEALTHCHECK passes against
the bot, and readiness follows the gateway connection."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import aiohttp
from discord.backoff import ExponentialBackoff
from prometheus_client.parser import text_string_to_metric_families

from bot.core.metrics import NO_METRICS
from tests.e2e.test_chat import ask, reply_done
from tests.fakes.openai_server import Script
from tests.test_deploy import healthcheck_command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    status, body = await get(port, "/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


async def test_one_reply_is_counted_and_the_bot_is_alive_and_ready(
    fake_discord, fake_openai, world, start_bot
):
    port = free_port()
    bot = await start_bot(METRICS_PORT=str(port))
    fake_openai.respond(Script(text="Counted and measured.", prompt_tokens=42))
    fake_discord.fail("PATCH", r"/channels/\d+/messages/\d+", 429, retry_after=0.05)
    thread_id = await ask(fake_discord, world, "count me")
    await reply_done(fake_discord, thread_id, "Counted and measured.")
    await fake_discord.wait_for(lambda: not bot.core.replies.busy(thread_id))  # usage recorded

    metrics = await scrape(port)
    assert (
        metrics[("threadbot_replies_total", frozenset({("outcome", "complete"), ("cause", "")}))]
        == 1
    )
    assert metrics[("threadbot_model_tokens_total", frozenset({("kind", "prompt")}))] == 42
    assert metrics[("threadbot_model_tokens_total", frozenset({("kind", "completion")}))] > 0
    assert metrics[("threadbot_time_to_first_token_seconds_count", frozenset())] == 1
    assert metrics[("threadbot_time_to_final_text_seconds_count", frozenset())] == 1
    assert metrics[("threadbot_discord_http_429_total", frozenset({("scope", "user")}))] == 1
    assert metrics[("threadbot_discord_gateway_up", frozenset())] == 1
    assert metrics[("threadbot_queued_replies", frozenset())] == 0
    lag_probes = ("threadbot_event_loop_lag_seconds_count", frozenset())
    async with asyncio.timeout(5):  # one probe each LAG_INTERVAL
        while (await scrape(port))[lag_probes] < 1:  # noqa: ASYNC110 (polling HTTP)
            await asyncio.sleep(0.1)

    assert await get(port, "/healthz") == (200, "ok\n")
    assert await get(port, "/readyz") == (200, "ready\n")
    docker_healthcheck = await asyncio.create_subprocess_exec(
        sys.executable, *healthcheck_command()[1:], env={**os.environ, "METRICS_PORT": str(port)}
    )  # the image's HEALTHCHECK, with this interpreter as the image's `python`
    assert await asyncio.wait_for(docker_healthcheck.wait(), 10) == 0


async def test_readiness_follows_the_gateway_connection(
    fake_discord, world, start_bot, monkeypatch
):
    monkeypatch.setattr(ExponentialBackoff, "delay", lambda self: 0.3)  # a reconnect we can see
    port = free_port()
    await start_bot(METRICS_PORT=str(port))
    assert await get(port, "/readyz") == (200, "ready\n")
    for socket_ in list(fake_discord._sockets):  # Discord drops the connection
        await socket_.close()
    seen = []
    async with asyncio.timeout(10):  # not ready while it reconnects, ready again after
        while not (seen and seen[-1][0] == 200 and any(status == 503 for status, _ in seen)):
            seen.append(await get(port, "/readyz"))
            assert await get(port, "/healthz") == (200, "ok\n")  # alive all the same
            await asyncio.sleep(0.005)
    assert (503, "not ready: not connected to Discord's gateway\n") in seen


async def test_without_metrics_port_nothing_is_measured_or_served(fake_discord, world, start_bot):
    bot = await start_bot()
    assert bot.settings.metrics_port is None
    assert bot.services.metrics is NO_METRICS and bot.core.replies.deps.metrics is NO_METRICS
    assert bot._metrics_server is None and bot._loop_lag is None
