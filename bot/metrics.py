"""What the bot measures, for Prometheus: replies by outcome, model tokens, latency, queues,
limiter refusals, Discord 429s, event-loop lag and the gateway's state.

:class:`Metrics` records nothing: it is the default when METRICS_PORT is empty, so the reply
lifecycle calls it unconditionally and its tests need no registry. :class:`PrometheusMetrics`
records into a registry of its own (not prometheus-client's global one), so two bots in one
process (tests, a restart) never collide. prometheus-client is an optional extra, imported only
when metrics are on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum
from types import SimpleNamespace

import aiohttp

from .llm import Delta, LLMError, Reply

LAG_INTERVAL = 0.5  # seconds between event-loop lag probes
# Model latency spans a fast local server to a reasoning model thinking for minutes.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0, 120.0, 300.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# The limiter names limits for people ("your requests"); metrics get stable identifiers.
LIMIT_LABELS = {
    "server requests": "server_requests",
    "server tokens": "server_tokens",
    "private requests": "private_requests",
    "private tokens": "private_tokens",
    "your requests": "user_requests",
    "account": "account",
}
# Label values come from these fixed sets only (a series per value lives as long as the process):
# never a model name, a person or a channel. Discord's X-RateLimit-Scope is outside input.
SCOPES = ("user", "global", "shared")


class Outcome(StrEnum):
    COMPLETE = "complete"  # the model finished (length-limited and empty replies included)
    STOPPED = "stopped"  # the Stop button, a deleted question, or a shutdown
    FAILED = "failed"  # by cause: a Failure value, or "internal" for a bug


def outcome_of(producer: asyncio.Task[None]) -> tuple[Outcome, str]:
    """How a reply's generation task ended, as labels: (outcome, cause); cause is "" unless it
    failed."""
    if producer.cancelled():
        return Outcome.STOPPED, ""
    error = producer.exception()
    if error is None:
        return Outcome.COMPLETE, ""
    return Outcome.FAILED, str(error.failure) if isinstance(error, LLMError) else "internal"


def is_first_delta(reply: Reply, delta: Delta) -> bool:
    """Whether ``delta`` is the first of its stream: the reply (which the stream fills before
    it yields) holds nothing else. O(1), unlike comparing the texts."""
    return len(reply.text) + len(reply.reasoning) == len(delta.text) + len(delta.reasoning)


class Metrics:
    """The bot's measurements; this base records nothing (metrics off)."""

    enabled = False

    def reply_finished(self, outcome: Outcome, cause: str = "", *, seconds: float) -> None:
        """A reply ended ``seconds`` after its model request went out; for a complete reply,
        that is the time to its final text."""

    def first_token(self, seconds: float) -> None:
        """The model's first streamed delta (answer or reasoning) came ``seconds`` after the
        request went out."""

    def model_tokens(self, prompt: int, completion: int) -> None:
        """A reply's model usage (as reported, or counted when the server reports none)."""

    def refused(self, limit: str) -> None:
        """The limiter refused a reply (a wait too long to wait out); ``limit`` as it names it."""

    def discord_429(self, scope: str) -> None:
        """Discord answered 429; ``scope`` from X-RateLimit-Scope (user, global, shared) or ""."""

    def loop_lag(self, seconds: float) -> None:
        """The event loop woke a sleeper ``seconds`` late."""

    def watch(self, *, queued: Callable[[], int], gateway_up: Callable[[], bool]) -> None:
        """Gauges read at scrape time: replies waiting to start, and the gateway's state."""

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        return b"", "text/plain; charset=utf-8"


NO_METRICS = Metrics()


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

    def refused(self, limit: str) -> None:  # the limiter's own names: a fixed set
        self._refusals.labels(limit=LIMIT_LABELS.get(limit, limit.replace(" ", "_"))).inc()

    def discord_429(self, scope: str) -> None:
        self._discord_429s.labels(scope=scope if scope in SCOPES or not scope else "other").inc()

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
