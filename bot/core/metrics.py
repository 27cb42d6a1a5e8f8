"""What the bot measures, for Prometheus: replies by outcome, model tokens, latency, queues,
limiter refusals, tool calls, Discord 429s, event-loop lag and the gateway's state.

:class:`Metrics` records nothing: it is the default when METRICS_PORT is empty, so the reply
lifecycle calls it unconditionally and its tests need no registry.
:class:`~bot.services.metrics.PrometheusMetrics`
records into a registry of its own (not prometheus-client's global one), so two bots in one
process (tests, a restart) never collide. prometheus-client is an optional extra, imported only
when metrics are on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum

from bot.core.llm import Delta, LLMError, Reply
from bot.core.ratelimit.base import Limit

LAG_INTERVAL = 0.5  # seconds between event-loop lag probes
# Model latency spans a fast local server to a reasoning model thinking for minutes.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0, 120.0, 300.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Label values come from these fixed sets only (a series per value lives as long as the process):
# never a model name, a person or a channel. Discord's X-RateLimit-Scope is outside input.
RATE_LIMIT_SCOPES = ("user", "global", "shared")


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

    def tool_call(self, server: str, outcome: str, seconds: float) -> None:
        """A tool call ended (``outcome``: done, failed or refused, as
        :class:`bot.core.replies.activity.State` says) after ``seconds``. ``server`` is a name
        from MCP_CONFIG or the built-in one: a set the operator fixed."""

    def refused(self, limit: Limit | None) -> None:
        """A limit refused a reply (a wait too long to wait out, a daily budget spent)."""

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
