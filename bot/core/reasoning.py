"""Reasoning text kept apart from the answer: the one place that knows the ``<think>`` convention.

Some servers (Ollama, older vLLM and llama.cpp builds) put a model's reasoning inline, as a
``<think>…</think>`` block at the start of the content; streamed, the tags may be split across
chunks at any character. Servers that send reasoning in a separate field need no parsing here.
Pure: no I/O, no openai import.
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Any

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


class _State(Enum):
    START = auto()  # before the first visible character: a think block may still open
    THINKING = auto()  # inside the block, until the close tag
    AFTER = auto()  # just past the block: whitespace between it and the answer is dropped
    ANSWER = auto()  # everything else is answer


def _held_suffix(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could start ``tag`` (and so must wait)."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Splits streamed content into (answer, reasoning) parts as it arrives.

    Only a block at the very start counts (after optional whitespace): a ``<think>`` later in an
    answer is the answer's own text. Characters that might begin a tag are held back until the
    next chunk decides, so nothing of the reasoning is ever released as answer.
    """

    __slots__ = ("_buffer", "_state")

    def __init__(self) -> None:
        self._state = _State.START
        self._buffer = ""

    def feed(self, chunk: str) -> tuple[str, str]:
        """The answer and reasoning text that ``chunk`` completes (either may be empty)."""
        text = self._buffer + chunk
        self._buffer = ""
        if self._state is _State.START:
            head = text.lstrip()
            if not head or (len(head) < len(OPEN_TAG) and OPEN_TAG.startswith(head)):
                self._buffer = text  # whitespace or "<thi": the next chunk decides
                return "", ""
            if not head.startswith(OPEN_TAG):
                self._state = _State.ANSWER
                return text, ""
            self._state = _State.THINKING
            text = head[len(OPEN_TAG) :]
        if self._state is _State.THINKING:
            end = text.find(CLOSE_TAG)
            if end < 0:
                held = _held_suffix(text, CLOSE_TAG)
                self._buffer = text[len(text) - held :]
                return "", text[: len(text) - held]
            self._state = _State.AFTER
            reasoning, text = text[:end], text[end + len(CLOSE_TAG) :]
            answer, _ = self.feed(text)
            return answer, reasoning
        if self._state is _State.AFTER:
            text = text.lstrip()
            if text:
                self._state = _State.ANSWER
            return text, ""
        return text, ""

    def finish(self) -> tuple[str, str]:
        """What was held back when the content ends: a partial tag at the start is answer text,
        a block never closed (a reply cut at the length limit) is all reasoning."""
        held, self._buffer = self._buffer, ""
        if self._state is _State.THINKING:
            return "", held
        return ("" if self._state is _State.START and not held.strip() else held), ""


def split_reasoning(text: str) -> tuple[str, str]:
    """(answer, reasoning) of a complete text, e.g. a non-streamed summary."""
    splitter = ThinkSplitter()
    answer, reasoning = splitter.feed(text)
    rest_answer, rest_reasoning = splitter.finish()
    return answer + rest_answer, reasoning + rest_reasoning


REASONING_FIELDS = ("reasoning_content", "reasoning")


def api_field(source: object, name: str) -> Any:
    """A field of what the API sent: one of openai's models (extra fields included) or a
    stream chunk's plain JSON; None if it is not there."""
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name, None)


def reasoning_field(message: object) -> str:
    """Reasoning a server sends in a field of its own, next to the content (an extra field on
    openai's models): ``reasoning_content`` from DeepSeek and llama.cpp, ``reasoning`` from vLLM,
    Ollama and OpenRouter. A server that sends both repeats the text: the first one counts."""
    for name in REASONING_FIELDS:
        value = api_field(message, name)
        if isinstance(value, str) and value:
            return value
    return ""
