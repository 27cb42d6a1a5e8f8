"""Metrics: outcomes as labels, what Prometheus scrapes, Discord 429s, loop lag, and the
/metrics, /healthz and /readyz endpoint, without Discord."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.core.llm import Delta, Failure, LLMError, Reply
from bot.core.metrics import NO_METRICS, Metrics, Outcome, is_first_delta, outcome_of
from bot.core.ratelimit import Limit
from bot.services import metrics_server
from bot.services.metrics import PrometheusMetrics, discord_http_trace, metrics_for, watch_loop_lag
from bot.services.metrics_server import MetricsServer, MetricsServerError
from tests.fakes.recording import Recorder
from tests.fakes.serving import serve


def scraped(metrics: Metrics) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape: (name, labels) → value."""
    body, _ = metrics.exposition()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return scraped(metrics)[(name, frozenset(labels.items()))]


async def ended(coroutine) -> asyncio.Task[None]:
    task = asyncio.create_task(coroutine)
    await asyncio.wait({task})
    return task


async def _forever() -> None:
    await asyncio.Event().wait()


async def _raise(error: Exception) -> None:
    raise error


async def _nothing() -> None:
    pass


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_nothing, (Outcome.COMPLETE, "")),
        (lambda: _raise(LLMError(Failure.QUOTA, "HTTP 429")), (Outcome.FAILED, "quota")),
        (lambda: _raise(LLMError(Failure.CUT_OFF, "dropped")), (Outcome.FAILED, "cut_off")),
        (lambda: _raise(RuntimeError("bug")), (Outcome.FAILED, "internal")),
    ],
)
async def test_how_a_reply_ended_becomes_labels(make, expected):
    assert outcome_of(await ended(make())) == expected


async def test_a_cancelled_reply_is_stopped():
    task = asyncio.create_task(_forever())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait({task})
    assert outcome_of(task) == (Outcome.STOPPED, "")


def test_only_the_first_delta_of_a_stream_is_first():
    reply = Reply()
    first = Delta(reasoning="hmm")
    reply.add(first)  # the client fills the reply before it yields the delta
    assert is_first_delta(reply, first)
    second = Delta(text="Paris")
    reply.add(second)
    assert not is_first_delta(reply, second)


def test_metrics_off_record_nothing():
    assert metrics_for(None) is NO_METRICS and not NO_METRICS.enabled
    NO_METRICS.reply_finished(Outcome.COMPLETE, seconds=1.0)
    NO_METRICS.model_tokens(10, 5)
    assert NO_METRICS.exposition()[0] == b""


def test_replies_tokens_and_latency_are_scraped():
    metrics = PrometheusMetrics()
    assert value(metrics, "threadbot_replies_total", outcome="complete", cause="") == 0
    metrics.first_token(0.4)
    metrics.reply_finished(Outcome.COMPLETE, seconds=2.5)
    metrics.reply_finished(Outcome.FAILED, "quota", seconds=0.1)
    metrics.reply_finished(Outcome.STOPPED, seconds=9.0)
    metrics.model_tokens(120, 30)
    metrics.model_tokens(80, 20)

    assert value(metrics, "threadbot_replies_total", outcome="complete", cause="") == 1
    assert value(metrics, "threadbot_replies_total", outcome="failed", cause="quota") == 1
    assert value(metrics, "threadbot_replies_total", outcome="stopped", cause="") == 1
    assert value(metrics, "threadbot_model_tokens_total", kind="prompt") == 200
    assert value(metrics, "threadbot_model_tokens_total", kind="completion") == 50
    assert value(metrics, "threadbot_time_to_first_token_seconds_count") == 1
    assert value(metrics, "threadbot_time_to_first_token_seconds_bucket", le="0.5") == 1
    # Only a complete reply has a final text: the failed and the stopped one are not timed.
    assert value(metrics, "threadbot_time_to_final_text_seconds_count") == 1
    assert value(metrics, "threadbot_time_to_final_text_seconds_sum") == 2.5


def test_refusals_tool_calls_429s_lag_and_scrape_time_gauges():
    metrics = PrometheusMetrics()
    state = {"queued": 0, "up": False}
    metrics.watch(queued=lambda: state["queued"], gateway_up=lambda: state["up"])
    metrics.refused(Limit.USER_REQUESTS)
    metrics.refused(Limit.SERVER_TOKENS)
    metrics.discord_429("user")
    metrics.loop_lag(0.02)
    assert value(metrics, "threadbot_discord_gateway_up") == 0
    state.update(queued=3, up=True)

    metrics.tool_call("fetch", "done", 1.2)
    metrics.tool_call("fetch", "failed", 30.0)
    assert value(metrics, "threadbot_tool_calls_total", server="fetch", outcome="done") == 1
    assert value(metrics, "threadbot_tool_calls_total", server="fetch", outcome="failed") == 1
    assert value(metrics, "threadbot_tool_call_seconds_count", server="fetch") == 2
    assert value(metrics, "threadbot_limiter_refusals_total", limit="user_requests") == 1
    assert value(metrics, "threadbot_limiter_refusals_total", limit="server_tokens") == 1
    assert value(metrics, "threadbot_discord_http_429_total", scope="user") == 1
    assert value(metrics, "threadbot_event_loop_lag_seconds_bucket", le="0.025") == 1
    assert value(metrics, "threadbot_queued_replies") == 3
    assert value(metrics, "threadbot_discord_gateway_up") == 1
    assert ("process_open_fds", frozenset()) in scraped(metrics)


def test_each_bot_has_a_registry_of_its_own():
    first, second = PrometheusMetrics(), PrometheusMetrics()  # no "duplicated timeseries"
    first.refused(Limit.ACCOUNT)
    assert value(first, "threadbot_limiter_refusals_total", limit="account") == 1
    assert ("threadbot_limiter_refusals_total", frozenset({("limit", "account")})) not in scraped(
        second
    )


async def test_a_blocked_loop_shows_as_lag():
    recorder = Recorder()
    watcher = asyncio.create_task(watch_loop_lag(recorder, interval=0.01))
    await asyncio.sleep(0.05)
    time.sleep(0.15)  # noqa: ASYNC251 (blocking the loop is the point)
    await asyncio.sleep(0.05)
    watcher.cancel()
    await asyncio.wait({watcher})
    lags = [lag for (lag,) in recorder.named("loop_lag")]
    assert len(lags) >= 2 and min(lags) >= 0
    assert max(lags) >= 0.1


async def test_discords_429s_are_counted_by_scope_from_the_http_trace():
    async def limited(request: web.Request) -> web.Response:
        return web.json_response(
            {"retry_after": 0.1}, status=429, headers={"X-RateLimit-Scope": "shared"}
        )

    async def fine(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/limited", limited)
    app.router.add_get("/fine", fine)
    runner, port = await serve(app)
    recorder = Recorder()
    try:
        async with aiohttp.ClientSession(trace_configs=[discord_http_trace(recorder)]) as http:
            for path in ("/fine", "/limited", "/fine", "/limited"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                    await response.read()
    finally:
        await runner.cleanup()
    assert recorder.named("discord_429") == [("shared",), ("shared",)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


async def test_the_endpoint_serves_metrics_liveness_and_readiness(monkeypatch):
    monkeypatch.setattr(metrics_server, "STORE_TIMEOUT", 0.05)
    state: dict = {"up": False, "store": _nothing}
    metrics = PrometheusMetrics()
    metrics.model_tokens(7, 3)
    server = MetricsServer(
        metrics, port=free_port(), host="127.0.0.1",
        gateway_up=lambda: state["up"], store_answers=lambda: state["store"](),
    )  # fmt: skip
    await server.start()
    try:
        status, content_type, body = await get(server.port, "/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=")
        assert 'threadbot_model_tokens_total{kind="prompt"} 7.0' in body
        assert (await get(server.port, "/healthz"))[0] == 200
        assert (await get(server.port, "/readyz"))[::2] == (
            503, "not ready: not connected to Discord's gateway\n"
        )  # fmt: skip
        state["up"] = True
        assert (await get(server.port, "/readyz"))[::2] == (200, "ready\n")
        state["store"] = _forever
        assert (await get(server.port, "/readyz"))[::2] == (
            503, "not ready: the store did not answer within 0.05 s\n"
        )  # fmt: skip
        state["store"] = lambda: _raise(OSError("connection refused"))
        assert (await get(server.port, "/readyz"))[::2] == (
            503, "not ready: the store failed: OSError\n"
        )  # fmt: skip
    finally:
        await server.close()


async def test_a_taken_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(
            NO_METRICS, port=port, host="127.0.0.1",
            gateway_up=lambda: True, store_answers=_nothing,
        )  # fmt: skip
        with pytest.raises(MetricsServerError, match=f"METRICS_PORT {port} cannot be served"):
            await server.start()


async def test_the_endpoint_listens_on_this_host_only_by_default():
    server = MetricsServer(NO_METRICS, port=free_port(), gateway_up=lambda: True,
                           store_answers=_nothing)  # fmt: skip
    await server.start()
    try:
        assert server._runner is not None
        assert [address[:2] for address in server._runner.addresses] == [("127.0.0.1", server.port)]
        assert (await get(server.port, "/healthz"))[0] == 200
    finally:
        await server.close()
