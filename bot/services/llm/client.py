"""The chat model client: one shared ``AsyncOpenAI``, streamed replies, errors mapped to causes.

The openai library's own retries are off (``max_retries=0``) so that retries are counted and
reported here: a user waiting for an answer is told when the service is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI

from bot.core.catalog import (
    TokenParameter,
    model_fields,
    takes_reasoning_effort,
    with_reasoning_room,
)
from bot.core.llm import RETRYABLE, Delta, Failure, LLMError, Reply, RetryHook, ToolCalls
from bot.core.reasoning import ThinkSplitter, reasoning_field, split_reasoning
from bot.core.tool_loop import for_server
from bot.services.llm.errors import classify, refuses_stream_options

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
MAX_RETRY_WAIT = 20.0  # seconds; longer waits are reported instead of waited out


class LLMClient:
    """Streams chat completions from one model through one shared client."""

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str,
        is_openai: bool,
        token_parameter: TokenParameter | None = None,
        reasoning_effort: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: float = 1.0,
    ) -> None:
        self.client = client
        self.model = model
        self.is_openai = is_openai
        self.token_parameter = token_parameter  # None: by model family and host
        self.reasoning_effort = reasoning_effort  # sent only to models that take it
        self.backoff = backoff  # seconds before the first retry; doubles each time
        self.usage_in_stream = True  # ask for a usage chunk, until a server refuses the field
        self._sleep = sleep
        if reasoning_effort is not None and not takes_reasoning_effort(model):
            log.warning("REASONING_EFFORT is set, but %s is not known to take it: not sent", model)

    @classmethod
    def create(
        cls,
        *,
        api_key: str | None,
        base_url: str | None,
        model: str,
        is_openai: bool,
        token_parameter: TokenParameter | None = None,
        reasoning_effort: str | None = None,
    ) -> LLMClient:
        client = AsyncOpenAI(
            api_key=api_key or "not-needed",  # local servers ignore it; the library wants one
            base_url=base_url,
            max_retries=0,
            timeout=openai.Timeout(120.0, connect=10.0),
        )
        return cls(
            client,
            model=model,
            is_openai=is_openai,
            token_parameter=token_parameter,
            reasoning_effort=reasoning_effort,
        )

    async def model_names(self) -> list[str]:
        """The models the server offers (``GET /models``); raises where it has no such route."""
        return [model.id async for model in self.client.models.list()]

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
        model = model or self.model
        body: dict[str, Any] = {
            "model": model,
            "messages": for_server(messages, is_openai=self.is_openai),
        }
        body |= model_fields(
            model,
            max_tokens=max_tokens,
            is_openai=self.is_openai,
            token_field=self.token_parameter,
            reasoning_effort=self.reasoning_effort,
        )
        if cache_key is not None:  # routes requests sharing a prefix to the same cache
            body["extra_body"] = {"prompt_cache_key": cache_key}
        return body

    async def complete(
        self, messages: list[dict[str, str]], max_tokens: int, *, model: str | None = None
    ) -> Reply:
        """One non-streamed completion (for summaries) of at most ``max_tokens`` of answer; a
        reasoning model gets room to think on top. No retries: the caller retries later. The
        reasoning is kept apart, so a summary never holds it."""
        allowance = with_reasoning_room(model or self.model, max_tokens)
        try:
            completion = await self.client.chat.completions.create(
                **self._body(messages, allowance, model=model)
            )
        except Exception as exc:
            raise classify(exc) from exc
        reply = Reply()
        if completion.choices:
            choice = completion.choices[0]
            answer, inline = split_reasoning(choice.message.content or "")
            reply.add(Delta(answer, reasoning_field(choice.message) + inline))
            reply.finish_reason = choice.finish_reason
        if completion.usage is not None:
            reply.record(completion.usage)
        return reply

    async def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        reply: Reply,
        on_retry: RetryHook | None = None,
        cache_key: str | None = None,
        model: str | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
    ) -> AsyncIterator[Delta]:
        """Yield answer and reasoning deltas; fill ``reply`` as it goes, with the calls the
        model asks for when ``tools`` (OpenAI function schemas) are offered (``tool_choice``
        "none": offered for what came before, but the model must answer in text).

        A failure before the first delta (refused, dropped, or an error event) is retried within
        the bounded policy: nobody has seen anything yet. After it, the reply is ``CUT_OFF``.
        """
        body = self._body(messages, max_tokens, cache_key=cache_key, model=model)
        body["stream"] = True
        if tools:
            body["tools"] = list(tools)
            if tool_choice is not None:
                body["tool_choice"] = tool_choice
        attempt = 0
        while True:
            attempt += 1
            started = False
            try:
                async with contextlib.aclosing(self._attempt(body, reply)) as deltas:
                    async for delta in deltas:
                        started = True
                        yield delta
                return
            except LLMError as error:
                if started:
                    raise LLMError(Failure.CUT_OFF, error.detail) from error
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    raise
                log.warning("Model call failed (%s); retrying in %.1fs", error.detail, delay)
                reply.usage, reply.finish_reason, reply.tool_calls = None, None, []
                if on_retry is not None:
                    await on_retry(error, delay)
                await self._sleep(delay)

    async def _attempt(self, body: dict[str, Any], reply: Reply) -> AsyncIterator[Delta]:
        """One request, read to its end; every failure comes out as a :class:`LLMError`."""
        stream = await self._open(body)
        reply.headers = {k.lower(): v for k, v in stream.response.headers.items()}
        splitter = ThinkSplitter()  # inline <think> blocks, whatever the chunking
        calls = ToolCalls()
        chunks = 0
        try:
            async for chunk in stream:  # plain JSON: see _open
                if not isinstance(chunk, dict):
                    continue
                chunks += 1
                if chunk.get("usage"):
                    reply.record(chunk["usage"])
                for choice in chunk.get("choices") or ():
                    if choice.get("finish_reason"):
                        reply.finish_reason = choice["finish_reason"]
                    part = choice.get("delta")
                    if not isinstance(part, dict):
                        continue
                    if part.get("tool_calls"):
                        calls.feed(part["tool_calls"])
                    answer, inline = splitter.feed(part.get("content") or "")
                    delta = Delta(answer, reasoning_field(part) + inline)
                    if delta:
                        reply.add(delta)
                        yield delta
            tail = Delta(*splitter.finish())
            if tail:
                reply.add(tail)
                yield tail
            reply.tool_calls = calls.calls()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise classify(exc) from exc
        finally:
            await stream.close()
        if not chunks:  # llama.cpp's server answers an overflow this way: 200, then nothing
            raise await self._why_empty(body)

    async def _why_empty(self, body: dict[str, Any]) -> LLMError:
        """A stream that ended before a single chunk: ask once without streaming, for one
        token, to learn the cause (a context overflow comes back as a 400 there). When that
        answers and the request offered tools, streaming with tools is what the server can't
        do: llama-cpp-python's function-calling format ends such a stream empty ("automatic
        streaming tool choice is not supported"), so the reply goes on without tools."""
        probe = {k: v for k, v in body.items() if k != "stream"}
        for field in ("max_tokens", "max_completion_tokens"):
            if field in probe:
                probe[field] = 1
        try:
            await self.client.chat.completions.create(**probe)
        except Exception as exc:
            return classify(exc)
        if body.get("tools"):
            return LLMError(Failure.NO_TOOLS, "the stream ended empty when offered tools")
        return LLMError(Failure.UNAVAILABLE, "the stream ended before its first chunk")

    async def _open(self, body: dict[str, Any]) -> openai.AsyncStream[object]:
        """The stream, its chunks as plain JSON: a reply streams hundreds of chunks, and
        building openai's typed model for each was half the bot's CPU time with 200 replies
        streaming at once (``bench/streaming.py``). ``post`` is the library's documented way
        to send a request as is; the stream's errors are still raised as openai's."""
        extra = body.get("extra_body") or {}
        while True:
            request = {k: v for k, v in body.items() if k != "extra_body"} | extra
            if self.usage_in_stream:
                request["stream_options"] = {"include_usage": True}
            try:
                return await self.client.post(
                    "/chat/completions", body=request, cast_to=object, stream=True,
                    stream_cls=openai.AsyncStream[object],
                )  # fmt: skip
            except Exception as exc:
                if self.usage_in_stream and refuses_stream_options(exc):
                    # An older OpenAI-compatible server: stream without usage (it is counted).
                    log.warning("The model server refuses stream_options; counting usage locally")
                    self.usage_in_stream = False
                    continue
                raise classify(exc) from exc

    def _retry_delay(self, error: LLMError, attempt: int) -> float | None:
        if error.failure not in RETRYABLE or attempt >= MAX_ATTEMPTS:
            return None
        delay = error.retry_after
        if delay is None:
            delay = min(8.0, self.backoff * 2.0 ** (attempt - 1)) * (0.75 + random.random() / 2)
        return delay if delay <= MAX_RETRY_WAIT else None
