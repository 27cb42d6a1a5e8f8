"""What a model call produces: streamed deltas, the reply they add up to, and failures by cause
(mapped from the client library's exceptions in :mod:`bot.services.llm.errors`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from bot.core.reasoning import api_field


@dataclass(frozen=True, slots=True)
class Delta:
    """One step of a stream: answer text, reasoning text, or both. A delta with reasoning only
    lets the caller show that the model is thinking; only ``text`` is ever shown or stored."""

    text: str = ""
    reasoning: str = ""

    def __bool__(self) -> bool:
        return bool(self.text or self.reasoning)


@dataclass(slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    @classmethod
    def of(cls, usage: Any) -> Usage:
        """From the API's usage object; servers other than OpenAI may omit the details."""
        prompt = api_field(usage, "prompt_tokens") or 0
        completion = api_field(usage, "completion_tokens") or 0
        cached = api_field(api_field(usage, "prompt_tokens_details"), "cached_tokens") or 0
        return cls(prompt, completion, cached)


@dataclass(slots=True)
class Reply:
    """What a finished stream produced. ``text`` is the answer alone; ``reasoning`` is kept apart
    (never shown, never re-sent). ``usage`` is None when the server sent none."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reasoning: str = ""
    reasoning_tokens: int | None = None  # as reported; part of usage.completion_tokens

    def add(self, delta: Delta) -> None:
        self.text += delta.text
        self.reasoning += delta.reasoning

    def record(self, usage: Any) -> None:
        """Take the API's usage object (a stream's last chunk, or a completion's)."""
        self.usage = Usage.of(usage)
        details = api_field(usage, "completion_tokens_details")
        self.reasoning_tokens = api_field(details, "reasoning_tokens")

    def spent(self, prompt_tokens: int, count: Callable[[str], int]) -> Usage | None:
        """The usage as reported, or counted when the server sends none (llama.cpp, for one):
        reasoning is generated, so it counts too. None when the model produced nothing."""
        if self.usage is not None:
            return self.usage
        if not (self.text or self.reasoning):
            return None
        return Usage(prompt_tokens, count(self.text) + count(self.reasoning))


class Failure(StrEnum):
    RATE_LIMITED = "rate_limited"
    QUOTA = "quota"
    CONTEXT_LENGTH = "context_length"
    AUTH = "auth"
    MODEL_NOT_FOUND = "model_not_found"
    UNAVAILABLE = "unavailable"
    BAD_REQUEST = "bad_request"
    CUT_OFF = "cut_off"  # the stream died after some text (or reasoning) arrived
    ROLE_ORDER = "role_order"  # the server's chat template wants user/assistant to alternate
    NO_VISION = "no_vision"  # the model (or server) takes no images


RETRYABLE = frozenset({Failure.RATE_LIMITED, Failure.UNAVAILABLE})


class LLMError(Exception):
    """A failed model call, by cause. ``detail`` is for logs, never for users."""

    def __init__(self, failure: Failure, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{failure}: {detail}")
        self.failure = failure
        self.detail = detail
        self.retry_after = retry_after


RetryHook = Callable[[LLMError, float], Awaitable[None]]


class ModelClient(Protocol):
    """What the reply lifecycle needs from the chat model client
    (:class:`~bot.services.llm.client.LLMClient` on ``openai``)."""

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        reply: Reply,
        on_retry: RetryHook | None = None,
        cache_key: str | None = None,
        model: str | None = None,
    ) -> AsyncIterator[Delta]:
        """Yield answer and reasoning deltas, filling ``reply``; raise :class:`LLMError`."""
        ...
