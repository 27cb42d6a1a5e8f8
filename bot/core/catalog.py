"""What a model's name says about the request it accepts: the one place for per-model API rules.

The rules follow the model family, not the host: OpenAI's reasoning models keep their contract
when served by Azure, OpenRouter or LiteLLM (``openai/gpt-5-mini``). Pure functions of the model
name, so a per-server model choice can use them later. No openai import: settings use this.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from bot.core.tokens import base_model

CHAT_COMPLETION_TOKENS = 1024
# Reasoning tokens are billed as completion tokens and count against the same allowance, before
# a word of the answer: with 1,024 a medium-effort answer is often cut off with nothing to show.
# OpenAI advises reserving about 25,000; 16,384 in all covers the reasoning of everyday chat
# questions, while the limiter's up-front charge (prompt + allowance, corrected after the reply)
# still leaves room for a few replies at once under the default GUILD_TPM of 60,000.
REASONING_ROOM = 16_384 - CHAT_COMPLETION_TOKENS
REASONING_COMPLETION_TOKENS = CHAT_COMPLETION_TOKENS + REASONING_ROOM

REASONING_EFFORTS = ("minimal", "low", "medium", "high")

# Fields OpenAI's reasoning models refuse (400 "Unsupported parameter").
SAMPLING_PARAMETERS = frozenset(
    {"temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
     "logit_bias"}
)  # fmt: skip

_O_SERIES = re.compile(r"o\d+(-|$)")  # o1, o1-mini, o3-pro, o4-mini-2025-04-16


class TokenParameter(StrEnum):
    """The request field that carries the completion allowance."""

    MAX_TOKENS = "max_tokens"  # the original field; most OpenAI-compatible servers know only it
    MAX_COMPLETION_TOKENS = (
        "max_completion_tokens"  # OpenAI's current one; reasoning models need it
    )


def is_reasoning_family(model: str) -> bool:
    """OpenAI's reasoning models (o-series, gpt-5 but its ``-chat`` variants), under any prefix."""
    name = base_model(model)
    if _O_SERIES.match(name):
        return True
    return name.startswith("gpt-5") and "-chat" not in name


def takes_reasoning_effort(model: str) -> bool:
    """Models known to accept ``reasoning_effort``: OpenAI's reasoning families, and gpt-oss on
    the servers that host it (vLLM, Ollama, Groq, OpenRouter)."""
    return is_reasoning_family(model) or base_model(model).startswith("gpt-oss")


def token_parameter(
    model: str, *, is_openai: bool, override: TokenParameter | None = None
) -> TokenParameter:
    """OpenAI (the host) and its reasoning families (anywhere) take ``max_completion_tokens``;
    the reasoning models refuse ``max_tokens``. Other models elsewhere get ``max_tokens``."""
    if override is not None:
        return override
    if is_openai or is_reasoning_family(model):
        return TokenParameter.MAX_COMPLETION_TOKENS
    return TokenParameter.MAX_TOKENS


def with_reasoning_room(model: str, answer_tokens: int) -> int:
    """The allowance for an answer of ``answer_tokens``: reasoning models think within the same
    allowance, so they get room for that on top."""
    return answer_tokens + (REASONING_ROOM if is_reasoning_family(model) else 0)


def default_completion_tokens(model: str, window: int | None = None) -> int:
    """The completion allowance when MAX_COMPLETION_TOKENS is unset; at most half of a window
    that is known, so that a small CONTEXT_TOKENS still leaves room for the prompt."""
    allowance = with_reasoning_room(model, CHAT_COMPLETION_TOKENS)
    return allowance if window is None else min(allowance, window // 2)


def model_fields(
    model: str,
    *,
    max_tokens: int,
    is_openai: bool,
    token_field: TokenParameter | None = None,
    reasoning_effort: str | None = None,
    sampling: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The request fields that depend on the model: the allowance under the right name, the
    effort where the model takes it, sampling parameters only where the model accepts them."""
    fields: dict[str, Any] = {
        token_parameter(model, is_openai=is_openai, override=token_field): max_tokens
    }
    if reasoning_effort is not None and takes_reasoning_effort(model):
        fields["reasoning_effort"] = reasoning_effort
    reasoning = is_reasoning_family(model)
    for name, value in (sampling or {}).items():
        if not (reasoning and name in SAMPLING_PARAMETERS):
            fields[name] = value
    return fields
