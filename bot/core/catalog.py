"""The model catalog: what each model family is, one row per family, and the request rules that
follow from it. Every model fact the bot uses (tokenizer, context window, images and their token
cost, reasoning, the allowance field and size) is read from :data:`FAMILIES` through
:func:`family`; no other module keeps a table of model names.

A name is matched after its provider prefix and fine-tune wrapper are removed (``openai/gpt-5``,
``azure/o3-mini``, ``ft:gpt-4o-mini:org::id``), to the family with the longest prefix that the
name does not continue with a letter: ``gpt-5`` covers ``gpt-5.1`` and ``gpt-5-codex``, ``o1``
covers ``o1-pro`` but not ``o1x``, ``gemma3`` covers ``gemma3:27b``. The facts follow the family,
not the host: OpenAI's reasoning models keep their contract when served by Azure, OpenRouter or
LiteLLM. Unknown names (local servers) get :data:`UNKNOWN`. Pure, no openai import: settings use
this too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

FALLBACK_WINDOW = 8_192  # a family whose window is not known, unless CONTEXT_TOKENS says otherwise
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


class TokenParameter(StrEnum):
    """The request field that carries the completion allowance."""

    MAX_TOKENS = "max_tokens"  # the original field; most OpenAI-compatible servers know only it
    MAX_COMPLETION_TOKENS = (
        "max_completion_tokens"  # OpenAI's current one; reasoning models need it
    )


class Reasoning(StrEnum):
    """How a family reasons before it answers."""

    NONE = "none"  # it answers straight away
    # OpenAI's reasoning models: they think unseen, within the completion allowance (so they get
    # REASONING_ROOM on top), take reasoning_effort and max_completion_tokens, refuse sampling.
    EFFORT = "effort"
    # A <think>…</think> block before the answer, in the text (bot.core.reasoning splits it off;
    # it does so for any model, whatever its row says).
    THINK = "think"
    FIELD = "field"  # in a field of its own beside the answer (reasoning_content, reasoning)


@dataclass(frozen=True, slots=True)
class Tiles:
    """OpenAI's tile rule: ``base`` plus ``per_tile`` for each 512-px tile, after scaling to fit
    2048 × 2048 and the short side to 768 (bot.core.images counts)."""

    base: int
    per_tile: int


@dataclass(frozen=True, slots=True)
class Patches:
    """OpenAI's patch rule: 32-px patches, at most 1,536, times ``multiplier``."""

    multiplier: float


@dataclass(frozen=True, slots=True)
class Family:
    """One model family: every name starting with one of ``prefixes``."""

    prefixes: tuple[str, ...]  # lower case, without any provider prefix
    encoding: str = "o200k_base"  # tiktoken's vocabulary (bot.core.tokens ships both)
    window: int | None = None  # context tokens; None: not known (CONTEXT_TOKENS, else FALLBACK)
    # True: it sees images. False: known not to (VISION_MODELS can't change that). None: not
    # known, so it is sent none unless VISION_MODELS names it.
    vision: bool | None = None
    images: Tiles | Patches | None = None  # its image-token rule; None: one token per 28² px
    reasoning: Reasoning = Reasoning.NONE
    effort: bool = False  # takes reasoning_effort without being an EFFORT model (gpt-oss)

    @property
    def reasoning_room(self) -> int:
        """Tokens of allowance for thinking, on top of the answer's."""
        return REASONING_ROOM if self.reasoning is Reasoning.EFFORT else 0

    @property
    def completion_tokens(self) -> int:
        """The completion allowance when MAX_COMPLETION_TOKENS is unset."""
        return CHAT_COMPLETION_TOKENS + self.reasoning_room

    @property
    def token_parameter(self) -> TokenParameter:
        """The allowance's field off OpenAI's own API (which takes max_completion_tokens from
        every model): reasoning models refuse ``max_tokens``; most other servers know only it."""
        if self.reasoning is Reasoning.EFFORT:
            return TokenParameter.MAX_COMPLETION_TOKENS
        return TokenParameter.MAX_TOKENS

    @property
    def takes_effort(self) -> bool:
        return self.reasoning is Reasoning.EFFORT or self.effort

    @property
    def takes_sampling(self) -> bool:
        """Whether it accepts :data:`SAMPLING_PARAMETERS`."""
        return self.reasoning is not Reasoning.EFFORT


O200K, CL100K = "o200k_base", "cl100k_base"
EFFORT, THINK, FIELD = Reasoning.EFFORT, Reasoning.THINK, Reasoning.FIELD

# fmt: off
FAMILIES: tuple[Family, ...] = (
    #      prefixes                              encoding window   vision image tokens  reasoning
    # OpenAI: GPT-4o, 4.1, 4.5
    Family(("gpt-4o", "chatgpt-4o"),             O200K, 128_000,   True,  Tiles(85, 170)),
    Family(("gpt-4o-mini",),                     O200K, 128_000,   True,  Tiles(2833, 5667)),
    Family(("gpt-4.1",),                         O200K, 1_047_576, True,  Tiles(85, 170)),
    Family(("gpt-4.1-mini",),                    O200K, 1_047_576, True,  Patches(1.62)),
    Family(("gpt-4.1-nano",),                    O200K, 1_047_576, True,  Patches(2.46)),
    Family(("gpt-4.5",),                         O200K, 128_000,   True,  Tiles(85, 170)),
    # OpenAI: GPT-5, a reasoning family but for its chat variants
    Family(("gpt-5",),                           O200K, 400_000,   True,  Tiles(70, 140),  EFFORT),
    Family(("gpt-5-mini",),                      O200K, 400_000,   True,  Patches(1.62),   EFFORT),
    Family(("gpt-5-nano",),                      O200K, 400_000,   True,  Patches(2.46),   EFFORT),
    Family(("gpt-5-chat",),                      O200K, 400_000,   False, Tiles(70, 140)),
    Family(("gpt-5.1-chat", "gpt-5.2-chat"),     O200K, 400_000,   True,  Tiles(70, 140)),
    # OpenAI: the o-series, reasoning
    Family(("o1", "o3"),                         O200K, 200_000,   True,  Tiles(75, 150),  EFFORT),
    Family(("o1-mini",),                         O200K, 128_000,   False, Tiles(75, 150),  EFFORT),
    Family(("o3-mini",),                         O200K, 200_000,   False, Tiles(75, 150),  EFFORT),
    Family(("o4",),                              O200K, 200_000,   True,  None,            EFFORT),
    Family(("o4-mini",),                         O200K, 200_000,   True,  Patches(1.72),   EFFORT),
    # OpenAI: GPT-4 and GPT-3.5 ("gpt-35" is Azure's spelling)
    Family(("gpt-4",),                           CL100K, 8_192),
    Family(("gpt-4-32k",),                       CL100K, 32_768),
    Family(("gpt-4-turbo",),                     CL100K, 128_000,  True,  Tiles(85, 170)),
    Family(("gpt-4-1106", "gpt-4-0125"),         CL100K, 128_000),
    Family(("gpt-3.5",),                         CL100K, 16_385),
    Family(("gpt-3.5-turbo-instruct",),          CL100K, 4_096),
    Family(("gpt-35",),                          CL100K),
    # Open-weight models, as local servers name them
    Family(("gpt-oss",), reasoning=FIELD, effort=True),  # effort where hosted (vLLM, Ollama, Groq)
    Family(("deepseek-r1", "qwq"), reasoning=THINK),
    Family(("llava", "bakllava", "llama3.2-vision", "llama4", "qwen2-vl", "qwen2.5vl", "qwen2.5-vl",
            "qwen3-vl", "gemma3", "gemma3n", "minicpm-v", "moondream", "pixtral", "mistral-small3",
            "granite3.2-vision"), vision=True),
)
# fmt: on
UNKNOWN = Family(())  # any other name

_BY_PREFIX = {prefix: row for row in FAMILIES for prefix in row.prefixes}


def base_model(model: str) -> str:
    """`ft:gpt-4o-mini:org::id` → `gpt-4o-mini`; `openai/gpt-4o` → `gpt-4o`."""
    model = model.strip().lower()
    if model.startswith("ft:"):
        model = model.split(":")[1]
    return model.rsplit("/", 1)[-1]


# Two naming rules of OpenAI's that rows alone would miss in models released after this table:
# every o<digit> model is an o-series reasoning model, and a GPT-5 "-chat" variant is not one.
_O_SERIES = re.compile(r"o\d+(-|$)")
O_SERIES = Family((), O200K, reasoning=EFFORT)


def family(model: str) -> Family:
    """The row for ``model``: its longest prefix that the name doesn't continue with a letter;
    then OpenAI's two naming rules (above) for names newer than the table."""
    name = base_model(model)
    row = _by_prefix(name)
    if row is UNKNOWN and _O_SERIES.match(name):
        return O_SERIES
    if row.reasoning is Reasoning.EFFORT and name.startswith("gpt-5") and "-chat" in name:
        return replace(row, reasoning=Reasoning.NONE)
    return row


def _by_prefix(name: str) -> Family:
    for end in range(len(name), 0, -1):
        row = _BY_PREFIX.get(name[:end])
        if row is not None and not name[end : end + 1].isalpha():
            return row
    return UNKNOWN


def context_window(model: str, override: int | None = None) -> int:
    """``override`` (CONTEXT_TOKENS), else the family's window, else :data:`FALLBACK_WINDOW`."""
    if override is not None:
        return override
    return family(model).window or FALLBACK_WINDOW


def is_reasoning_family(model: str) -> bool:
    """OpenAI's reasoning models (o-series, gpt-5 but its ``-chat`` variants), under any prefix."""
    return family(model).reasoning is Reasoning.EFFORT


def takes_reasoning_effort(model: str) -> bool:
    """Models known to accept ``reasoning_effort``: OpenAI's reasoning families, and gpt-oss on
    the servers that host it (vLLM, Ollama, Groq, OpenRouter)."""
    return family(model).takes_effort


def token_parameter(
    model: str, *, is_openai: bool, override: TokenParameter | None = None
) -> TokenParameter:
    """OpenAI (the host) and its reasoning families (anywhere) take ``max_completion_tokens``;
    the reasoning models refuse ``max_tokens``. Other models elsewhere get ``max_tokens``."""
    if override is not None:
        return override
    if is_openai:
        return TokenParameter.MAX_COMPLETION_TOKENS
    return family(model).token_parameter


def with_reasoning_room(model: str, answer_tokens: int) -> int:
    """The allowance for an answer of ``answer_tokens``: reasoning models think within the same
    allowance, so they get room for that on top."""
    return answer_tokens + family(model).reasoning_room


def default_completion_tokens(model: str, window: int | None = None) -> int:
    """The completion allowance when MAX_COMPLETION_TOKENS is unset; at most half of a window
    that is known, so that a small CONTEXT_TOKENS still leaves room for the prompt."""
    allowance = family(model).completion_tokens
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
    row = family(model)
    fields: dict[str, Any] = {
        token_parameter(model, is_openai=is_openai, override=token_field): max_tokens
    }
    if reasoning_effort is not None and row.takes_effort:
        fields["reasoning_effort"] = reasoning_effort
    for name, value in (sampling or {}).items():
        if row.takes_sampling or name not in SAMPLING_PARAMETERS:
            fields[name] = value
    return fields
