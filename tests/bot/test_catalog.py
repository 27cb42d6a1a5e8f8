"""Per-model request rules: the family decides, whatever the host or the provider prefix."""

from __future__ import annotations

import pytest

from bot.core.catalog import (
    CHAT_COMPLETION_TOKENS,
    REASONING_COMPLETION_TOKENS,
    TokenParameter,
    default_completion_tokens,
    is_reasoning_family,
    model_fields,
    takes_reasoning_effort,
    token_parameter,
    with_reasoning_room,
)

MAX = TokenParameter.MAX_TOKENS
MAX_COMPLETION = TokenParameter.MAX_COMPLETION_TOKENS


@pytest.mark.parametrize(
    ("model", "reasoning", "effort"),
    [
        ("o1", True, True),
        ("o1-mini", True, True),
        ("o3-pro", True, True),
        ("o4-mini-2025-04-16", True, True),
        ("gpt-5", True, True),
        ("gpt-5-mini", True, True),
        ("GPT-5-Nano", True, True),
        ("gpt-5.1", True, True),
        ("openai/gpt-5-mini", True, True),  # OpenRouter, LiteLLM
        ("azure/o3-mini", True, True),
        ("ft:o4-mini-2025-04-16:org::abc", True, True),
        ("gpt-5-chat-latest", False, False),  # the chat variant takes sampling, not effort
        ("gpt-4o-mini", False, False),
        ("gpt-4.1", False, False),
        ("openai/gpt-oss-120b", False, True),  # takes effort where hosted; no OpenAI contract
        ("llama3.1", False, False),
        ("deepseek-r1:8b", False, False),
        ("omni-7b", False, False),  # an o, but not the o-series
        ("o1x", False, False),
    ],
)
def test_traits_by_model_name(model, reasoning, effort):
    assert is_reasoning_family(model) is reasoning
    assert takes_reasoning_effort(model) is effort


@pytest.mark.parametrize(
    ("model", "is_openai", "override", "expected"),
    [
        ("gpt-4o-mini", True, None, MAX_COMPLETION),  # OpenAI itself: its current field
        ("gpt-4o-mini", False, None, MAX),  # elsewhere: the field every server knows
        ("llama3.1", False, None, MAX),
        ("o3-mini", False, None, MAX_COMPLETION),  # Azure, a proxy: reasoning models refuse max_tokens
        ("openai/gpt-5-mini", False, None, MAX_COMPLETION),  # OpenRouter
        ("llama3.1", False, MAX_COMPLETION, MAX_COMPLETION),  # TOKEN_PARAMETER wins
        ("gpt-5", True, MAX, MAX),
    ],
)  # fmt: skip
def test_token_parameter(model, is_openai, override, expected):
    assert token_parameter(model, is_openai=is_openai, override=override) is expected


@pytest.mark.parametrize(
    ("model", "window", "expected"),
    [
        ("gpt-4o-mini", None, CHAT_COMPLETION_TOKENS),
        ("llama3.1", None, CHAT_COMPLETION_TOKENS),
        ("gpt-5-mini", None, REASONING_COMPLETION_TOKENS),
        ("openai/o4-mini", None, REASONING_COMPLETION_TOKENS),
        ("o3-mini", 20_000, 10_000),  # at most half of a known window
        ("llama3.1", 1_000, 500),
        ("llama3.1", 100_000, CHAT_COMPLETION_TOKENS),
    ],
)
def test_default_completion_tokens(model, window, expected):
    assert default_completion_tokens(model, window) == expected


SAMPLING = {"temperature": 0.7, "top_p": 0.9, "seed": 7}


@pytest.mark.parametrize(
    ("model", "is_openai", "effort", "expected"),
    [
        ("gpt-5-mini", True, "low", {"max_completion_tokens": 99, "reasoning_effort": "low", "seed": 7}),
        ("openai/o3", False, "high", {"max_completion_tokens": 99, "reasoning_effort": "high", "seed": 7}),
        ("gpt-5-mini", True, None, {"max_completion_tokens": 99, "seed": 7}),
        ("gpt-4o-mini", True, "low", {"max_completion_tokens": 99, **SAMPLING}),  # would be a 400
        ("llama3.1", False, "low", {"max_tokens": 99, **SAMPLING}),
        ("gpt-oss-20b", False, "medium", {"max_tokens": 99, "reasoning_effort": "medium", **SAMPLING}),
    ],
)  # fmt: skip
def test_model_fields_follow_the_family(model, is_openai, effort, expected):
    fields = model_fields(
        model, max_tokens=99, is_openai=is_openai, reasoning_effort=effort, sampling=SAMPLING
    )
    assert fields == expected


@pytest.mark.parametrize(
    ("model", "answer", "expected"),
    [("gpt-4o-mini", 400, 400), ("llama3.1", 400, 400), ("gpt-5-nano", 400, 400 + 15_360),
     ("openai/o3", 1024, REASONING_COMPLETION_TOKENS)],
)  # fmt: skip
def test_reasoning_models_get_room_to_think_on_top_of_the_answer(model, answer, expected):
    assert with_reasoning_room(model, answer) == expected
