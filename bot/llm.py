"""The chat model client: one shared ``AsyncOpenAI``, streamed replies, errors mapped to causes.

The openai library's own retries are off (``max_retries=0``) so that retries are counted and
reported here: a user waiting for an answer is told when the service is busy.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import openai
from openai import AsyncOpenAI

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
MAX_RETRY_WAIT = 20.0  # seconds; longer waits are reported instead of waited out


class Failure(StrEnum):
    RATE_LIMITED = "rate_limited"
    QUOTA = "quota"
    CONTEXT_LENGTH = "context_length"
    AUTH = "auth"
    MODEL_NOT_FOUND = "model_not_found"
    UNAVAILABLE = "unavailable"
    BAD_REQUEST = "bad_request"
    CUT_OFF = "cut_off"  # the stream died after some text arrived


RETRYABLE = frozenset({Failure.RATE_LIMITED, Failure.UNAVAILABLE})


class LLMError(Exception):
    """A failed model call, by cause. ``detail`` is for logs, never for users."""

    def __init__(self, failure: Failure, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{failure}: {detail}")
        self.failure = failure
        self.detail = detail
        self.retry_after = retry_after


@dataclass(slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    @classmethod
    def of(cls, usage: Any) -> Usage:
        """From the API's usage object; servers other than OpenAI may omit the details."""
        details = getattr(usage, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None) or 0
        return cls(usage.prompt_tokens or 0, usage.completion_tokens or 0, cached)


@dataclass(slots=True)
class Reply:
    """What a finished stream produced; ``usage`` is None when the server sent none."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def spent(self, prompt_tokens: int, count: Callable[[str], int]) -> Usage | None:
        """The usage as reported, or counted when the server sends none (llama.cpp, for one);
        None when the model produced nothing to count."""
        if self.usage is not None:
            return self.usage
        return Usage(prompt_tokens, count(self.text)) if self.text else None


def _retry_after(error: openai.APIStatusError) -> float | None:
    headers = error.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def classify(error: Exception) -> LLMError:
    """Map an openai/httpx exception to a :class:`LLMError`."""
    if isinstance(error, LLMError):
        return error
    if isinstance(error, openai.APIStatusError):
        code = getattr(error, "code", None) or ""
        detail = f"HTTP {error.status_code} {code}".strip()
        if error.status_code == 429:
            if code == "insufficient_quota":
                return LLMError(Failure.QUOTA, detail)
            return LLMError(Failure.RATE_LIMITED, detail, _retry_after(error))
        if code == "context_length_exceeded" or "maximum context length" in str(error.message):
            return LLMError(Failure.CONTEXT_LENGTH, detail)
        if error.status_code in (401, 403):
            return LLMError(Failure.AUTH, detail)
        if error.status_code == 404:
            return LLMError(Failure.MODEL_NOT_FOUND, detail)
        if error.status_code >= 500 or error.status_code == 408:
            return LLMError(Failure.UNAVAILABLE, detail, _retry_after(error))
        return LLMError(Failure.BAD_REQUEST, detail)
    if isinstance(error, openai.APIConnectionError):
        return LLMError(Failure.UNAVAILABLE, type(error).__name__)
    return LLMError(Failure.UNAVAILABLE, f"{type(error).__name__}: {error}")


def _refuses_stream_options(error: Exception) -> bool:
    return isinstance(error, openai.BadRequestError) and "stream_options" in str(error.message)


RetryHook = Callable[[LLMError, float], Awaitable[None]]


class LLMClient:
    """Streams chat completions from one model through one shared client."""

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str,
        is_openai: bool,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: float = 1.0,
    ) -> None:
        self.client = client
        self.model = model
        self.is_openai = is_openai
        self.backoff = backoff  # seconds before the first retry; doubles each time
        self.usage_in_stream = True  # ask for a usage chunk, until a server refuses the field
        self._sleep = sleep

    @classmethod
    def create(cls, *, api_key: str | None, base_url: str | None, model: str, is_openai: bool):
        client = AsyncOpenAI(
            api_key=api_key or "not-needed",  # local servers ignore it; the library wants one
            base_url=base_url,
            max_retries=0,
            timeout=openai.Timeout(120.0, connect=10.0),
        )
        return cls(client, model=model, is_openai=is_openai)

    async def close(self) -> None:
        await self.client.close()

    def _body(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        *,
        model: str | None = None,
        cache_key: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model or self.model, "messages": messages}
        # OpenAI's reasoning models refuse `max_tokens`; most local servers only know it.
        body["max_completion_tokens" if self.is_openai else "max_tokens"] = max_tokens
        if cache_key is not None:  # routes requests sharing a prefix to the same cache
            body["extra_body"] = {"prompt_cache_key": cache_key}
        return body

    async def complete(
        self, messages: list[dict[str, str]], max_tokens: int, *, model: str | None = None
    ) -> Reply:
        """One non-streamed completion (for summaries); no retries, the caller retries later."""
        try:
            completion = await self.client.chat.completions.create(
                **self._body(messages, max_tokens, model=model)
            )
        except Exception as exc:
            raise classify(exc) from exc
        reply = Reply(
            text=(completion.choices[0].message.content or "") if completion.choices else ""
        )
        if completion.usage is not None:
            reply.usage = Usage.of(completion.usage)
        return reply

    async def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        reply: Reply,
        on_retry: RetryHook | None = None,
        cache_key: str | None = None,
    ) -> AsyncIterator[str]:
        """Yield text deltas; fill ``reply`` as it goes. Retries only before the first text."""
        body = self._body(messages, max_tokens, cache_key=cache_key)
        body["stream"] = True
        if self.usage_in_stream:
            body["stream_options"] = {"include_usage": True}
        attempt = 0
        while True:
            attempt += 1
            try:
                stream = await self.client.chat.completions.create(**body)
            except Exception as exc:
                if _refuses_stream_options(exc) and body.pop("stream_options", None):
                    # An older OpenAI-compatible server: stream without usage (it is counted).
                    log.warning("The model server refuses stream_options; counting usage locally")
                    self.usage_in_stream = False
                    attempt -= 1
                    continue
                error = classify(exc)
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    raise error from exc
                log.warning("Model call failed (%s); retrying in %.1fs", error.detail, delay)
                if on_retry is not None:
                    await on_retry(error, delay)
                await self._sleep(delay)
                continue
            reply.headers = {k.lower(): v for k, v in stream.response.headers.items()}
            async for delta in self._read(stream, reply):
                yield delta
            return

    async def _read(self, stream: Any, reply: Reply) -> AsyncIterator[str]:
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    reply.usage = Usage.of(chunk.usage)
                for choice in chunk.choices or ():
                    if choice.finish_reason:
                        reply.finish_reason = choice.finish_reason
                    text = choice.delta.content if choice.delta else None
                    if text:
                        reply.text += text
                        yield text
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = classify(exc)
            failure = Failure.CUT_OFF if reply.text else error.failure
            raise LLMError(failure, error.detail) from exc
        finally:
            await stream.close()

    def _retry_delay(self, error: LLMError, attempt: int) -> float | None:
        if error.failure not in RETRYABLE or attempt >= MAX_ATTEMPTS:
            return None
        delay = error.retry_after
        if delay is None:
            delay = min(8.0, self.backoff * 2.0 ** (attempt - 1)) * (0.75 + random.random() / 2)
        return delay if delay <= MAX_RETRY_WAIT else None
