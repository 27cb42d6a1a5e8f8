"""Prometheus metrics: :class:`~bot.core.metrics.Metrics` recorded into a registry of its own,
the event-loop lag probe, and the trace hook that counts Discord's 429s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp

from bot.core.metrics import (
    LAG_BUCKETS,
    LAG_INTERVAL,
    LATENCY_BUCKETS,
    NO_METRICS,
    RATE_LIMIT_SCOPES,
    Metrics,
    Outcome,
)
from bot.core.ratelimit.base import Limit


class PrometheusMetrics(Metrics):
    """Records into ``self.registry``; requires prometheus-client (the ``metrics`` extra)."""

    enabled = True

    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            gc_collector,
            platform_collector,
            process_collector,
        )

        registry = self.registry = CollectorRegistry()
        process_collector.ProcessCollector(registry=registry)  # memory, CPU, open files
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
        self._replies = Counter(
            "threadbot_replies", "Replies that ended, by outcome and failure cause.",
            ["outcome", "cause"], registry=registry,
        )  # fmt: skip
        self._tokens = Counter(
            "threadbot_model_tokens", "Model tokens of replies, by kind (prompt or completion).",
            ["kind"], registry=registry,
        )  # fmt: skip
        self._first_token = Histogram(
            "threadbot_time_to_first_token_seconds",
            "From a reply's model request to its first streamed delta.",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self._final_text = Histogram(
            "threadbot_time_to_final_text_seconds",
            "From a reply's model request to its complete text (complete replies only).",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self._tool_calls = Counter(
            "threadbot_tool_calls", "Tool calls that ended, by server and outcome.",
            ["server", "outcome"], registry=registry,
        )  # fmt: skip
        self._tool_seconds = Histogram(
            "threadbot_tool_call_seconds", "How long tool calls took, consent waits included.",
            ["server"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self._refusals = Counter(
            "threadbot_limiter_refusals", "Replies refused by the rate limiter, by limit.",
            ["limit"], registry=registry,
        )  # fmt: skip
        self._discord_429s = Counter(
            "threadbot_discord_http_429", "Discord REST responses with status 429, by scope.",
            ["scope"], registry=registry,
        )  # fmt: skip
        self._lag = Histogram(
            "threadbot_event_loop_lag_seconds",
            f"How late the event loop wakes a {LAG_INTERVAL:g} s sleep.",
            buckets=LAG_BUCKETS, registry=registry,
        )  # fmt: skip
        self._queued = Gauge(
            "threadbot_queued_replies",
            "Replies waiting to start: conversations with messages queued behind a reply.",
            registry=registry,
        )
        self._gateway = Gauge(
            "threadbot_discord_gateway_up",
            "1 while connected to Discord's gateway with a ready session, else 0.",
            registry=registry,
        )
        for outcome in Outcome:  # series exist from the start, so rate() sees the first one
            if outcome is not Outcome.FAILED:
                self._replies.labels(outcome=outcome, cause="")
        for kind in ("prompt", "completion"):
            self._tokens.labels(kind=kind)

    def reply_finished(self, outcome: Outcome, cause: str = "", *, seconds: float) -> None:
        self._replies.labels(outcome=outcome, cause=cause).inc()
        if outcome is Outcome.COMPLETE:
            self._final_text.observe(max(0.0, seconds))

    def first_token(self, seconds: float) -> None:
        self._first_token.observe(max(0.0, seconds))

    def model_tokens(self, prompt: int, completion: int) -> None:
        self._tokens.labels(kind="prompt").inc(prompt)
        self._tokens.labels(kind="completion").inc(completion)

    def tool_call(self, server: str, outcome: str, seconds: float) -> None:
        self._tool_calls.labels(server=server, outcome=outcome).inc()
        self._tool_seconds.labels(server=server).observe(max(0.0, seconds))

    def refused(self, limit: Limit | None) -> None:  # a fixed set: Limit's values
        self._refusals.labels(limit=str(limit or "")).inc()

    def discord_429(self, scope: str) -> None:
        self._discord_429s.labels(
            scope=scope if scope in RATE_LIMIT_SCOPES or not scope else "other"
        ).inc()

    def loop_lag(self, seconds: float) -> None:
        self._lag.observe(seconds)

    def watch(self, *, queued: Callable[[], int], gateway_up: Callable[[], bool]) -> None:
        # Read when scraped, on the event loop (the server is aiohttp on that loop), so the
        # callbacks may look at the bot's state without locks.
        self._queued.set_function(lambda: float(queued()))
        self._gateway.set_function(lambda: 1.0 if gateway_up() else 0.0)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def metrics_for(port: int | None) -> Metrics:
    """Prometheus metrics when a port is set, else the no-op."""
    return PrometheusMetrics() if port is not None else NO_METRICS


async def watch_loop_lag(
    metrics: Metrics, interval: float = LAG_INTERVAL, clock: Callable[[], float] = time.monotonic
) -> None:
    """Until cancelled: sleep ``interval`` and record how late the loop woke us. Blocking work
    on the loop (sync I/O, a long CPU step) shows here before it shows as slow replies."""
    while True:
        started = clock()
        await asyncio.sleep(interval)
        metrics.loop_lag(max(0.0, clock() - started - interval))


def discord_http_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """Counts Discord's 429s as they arrive, for ``discord.Client(http_trace=...)``.

    discord.py also logs a warning per 429, but a log handler would miss them when LOG_LEVEL is
    above WARNING, would depend on the wording, and would miss the 429s it raises without a log
    line (Cloudflare's); the trace hook is a documented option and sees every response.
    """

    async def on_request_end(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        if params.response.status == 429:
            metrics.discord_429(params.response.headers.get("X-RateLimit-Scope", ""))

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    return trace
