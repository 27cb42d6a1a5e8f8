"""Model profiles: the catalog's facts with the operator's settings on top (CONTEXT_TOKENS,
MAX_COMPLETION_TOKENS, VISION_MODELS)."""

from __future__ import annotations

import pytest

from bot.core.catalog import CHAT_COMPLETION_TOKENS, FALLBACK_WINDOW, REASONING_COMPLETION_TOKENS
from bot.core.context import Budget
from bot.core.models import Models
from bot.core.tokens import TokenCounter

COUNTER = TokenCounter.for_model("gpt-4o-mini")


@pytest.mark.parametrize(
    ("name", "context_tokens", "completion_tokens", "budget"),
    [
        ("gpt-4o", None, None, Budget(128_000, CHAT_COMPLETION_TOKENS)),
        ("gpt-5-mini", None, None, Budget(400_000, REASONING_COMPLETION_TOKENS)),
        ("mistral", None, None, Budget(FALLBACK_WINDOW, CHAT_COMPLETION_TOKENS)),
        ("mistral", 32_000, None, Budget(32_000, CHAT_COMPLETION_TOKENS)),  # unknown: the setting
        ("gpt-4o", 32_000, None, Budget(128_000, CHAT_COMPLETION_TOKENS)),  # known: its own
        ("default-model", 20_000, None, Budget(20_000, CHAT_COMPLETION_TOKENS)),
        ("gpt-4o", None, 500, Budget(128_000, 500)),  # MAX_COMPLETION_TOKENS wins
    ],
)
def test_windows_and_allowances(name, context_tokens, completion_tokens, budget):
    models = Models(
        default="default-model", context_tokens=context_tokens,
        completion_tokens=completion_tokens,
    )  # fmt: skip
    assert models.add(name, COUNTER).budget == budget


def test_the_default_gets_context_tokens_even_when_the_catalog_knows_its_window():
    models = Models(default="gpt-5-mini", context_tokens=20_000)
    assert models.add("gpt-5-mini", COUNTER).budget == Budget(20_000, 10_000)  # half, at most


@pytest.mark.parametrize(
    ("name", "vision"),
    [
        ("gpt-4o", True),  # the catalog says it sees
        ("o3-mini", False),  # the catalog says it doesn't: VISION_MODELS can't change that
        ("llama3.1:8b", True),  # the catalog doesn't know: VISION_MODELS says it sees
        ("openai/llama3.1:70b", True),
        ("mistral", False),  # nobody says it sees
    ],
)
def test_who_sees_images(name, vision):
    models = Models(default="default-model", vision=("llama3.1", "openai/o3-mini"))
    assert models.add(name, COUNTER).vision is vision


async def test_a_model_gets_the_counter_of_its_familys_encoding():
    models = Models(default="gpt-4o-mini")
    models.add("gpt-4o-mini", COUNTER)
    assert (await models.get("gpt-4o")).counter is COUNTER  # the same vocabulary, loaded once
    assert (await models.get("gpt-4")).counter.encoding.name == "cl100k_base"
