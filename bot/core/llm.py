"""What a model call produces: streamed deltas, the reply they add up to, and failures by cause
(mapped from the client library's exceptions in :mod:`bot.services.llm.errors`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
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


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function the model asked to call: ``arguments`` is the JSON text it wrote (not parsed
    here: the tool loop decides what a malformed one means)."""

    id: str
    name: str
    arguments: str


class ToolCalls:
    """Assembles a stream's tool calls. OpenAI streams each call in pieces tagged with its
    ``index``: the first carries ``id`` and ``function.name``, later ones more of
    ``function.arguments``; several calls may come in one response, one index each."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, str]] = {}

    def feed(self, pieces: Any) -> None:
        """One delta's ``tool_calls`` list; pieces that are not objects are passed over."""
        for piece in pieces if isinstance(pieces, list) else ():
            if not isinstance(piece, dict):
                continue
            index = piece.get("index")
            part = self._parts.setdefault(index if isinstance(index, int) else len(self._parts), {})
            function = piece.get("function") if isinstance(piece.get("function"), dict) else {}
            for key, value in (("id", piece.get("id")), ("name", function.get("name"))):
                if isinstance(value, str) and value:
                    part[key] = value  # sent once; a server that repeats it repeats the same
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                part["arguments"] = part.get("arguments", "") + arguments

    def calls(self) -> list[ToolCall]:
        """The complete calls, in index order; a call whose name never came is dropped."""
        return [
            ToolCall(part.get("id") or f"call_{index}", part["name"], part.get("arguments", ""))
            for index, part in sorted(self._parts.items())
            if part.get("name")
        ]


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
    tool_calls: list[ToolCall] = field(default_factory=list)  # what the model asked to call

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
        reasoning and tool calls are generated, so they count too. None when the model
        produced nothing."""
        if self.usage is not None:
            return self.usage
        if not (self.text or self.reasoning or self.tool_calls):
            return None
        calls = sum(count(call.name) + count(call.arguments) for call in self.tool_calls)
        return Usage(prompt_tokens, count(self.text) + count(self.reasoning) + calls)


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
    NO_TOOLS = "no_tools"  # the model (or server) takes no tools: answer without them


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
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
    ) -> AsyncIterator[Delta]:
        """Yield answer and reasoning deltas, filling ``reply`` (its tool calls too, when
        ``tools`` were offered; ``tool_choice`` "none" asks for text only); raise
        :class:`LLMError`."""
        ...
