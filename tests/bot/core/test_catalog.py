"""The model catalog: one line per family below, and the request rules that follow from it (the
family decides, whatever the host or the provider prefix)."""

from __future__ import annotations

import pytest

from bot.core.catalog import (
    CHAT_COMPLETION_TOKENS,
    FAMILIES,
    REASONING_COMPLETION_TOKENS,
    UNKNOWN,
    Patches,
    Reasoning,
    Tiles,
    TokenParameter,
    context_window,
    default_completion_tokens,
    family,
    is_reasoning_family,
    model_fields,
    takes_reasoning_effort,
    token_parameter,
    with_reasoning_room,
)
from bot.core.tokens import _VOCABULARY_URLS

MAX = TokenParameter.MAX_TOKENS
MAX_COMPLETION = TokenParameter.MAX_COMPLETION_TOKENS
O200K, CL100K = "o200k_base", "cl100k_base"
NONE, EFFORT, THINK, FIELD = Reasoning.NONE, Reasoning.EFFORT, Reasoning.THINK, Reasoning.FIELD
CHAT, THINKING = CHAT_COMPLETION_TOKENS, REASONING_COMPLETION_TOKENS

# One line per family (a name it covers), with every fact the bot reads from the catalog. The
# allowance field is the one sent off OpenAI's own API (which takes max_completion_tokens).
# fmt: off
TABLE = [
    # name                    encoding window     vision image tokens       reasoning effort field       allowance
    ("gpt-4o-2024-11-20",      O200K, 128_000,   True,  Tiles(85, 170),     NONE,   False, MAX,            CHAT),
    ("chatgpt-4o-latest",      O200K, 128_000,   True,  Tiles(85, 170),     NONE,   False, MAX,            CHAT),
    ("gpt-4o-mini",            O200K, 128_000,   True,  Tiles(2833, 5667),  NONE,   False, MAX,            CHAT),
    ("gpt-4.1",                O200K, 1_047_576, True,  Tiles(85, 170),     NONE,   False, MAX,            CHAT),
    ("gpt-4.1-mini",           O200K, 1_047_576, True,  Patches(1.62),      NONE,   False, MAX,            CHAT),
    ("gpt-4.1-nano",           O200K, 1_047_576, True,  Patches(2.46),      NONE,   False, MAX,            CHAT),
    ("gpt-4.5-preview",        O200K, 128_000,   True,  Tiles(85, 170),     NONE,   False, MAX,            CHAT),
    ("gpt-5",                  O200K, 400_000,   True,  Tiles(70, 140),     EFFORT, True,  MAX_COMPLETION, THINKING),
    ("gpt-5.1-codex",          O200K, 400_000,   True,  Tiles(70, 140),     EFFORT, True,  MAX_COMPLETION, THINKING),
    ("gpt-5-mini",             O200K, 400_000,   True,  Patches(1.62),      EFFORT, True,  MAX_COMPLETION, THINKING),
    ("gpt-5-nano",             O200K, 400_000,   True,  Patches(2.46),      EFFORT, True,  MAX_COMPLETION, THINKING),
    ("gpt-5-chat-latest",      O200K, 400_000,   False, Tiles(70, 140),     NONE,   False, MAX,            CHAT),
    ("gpt-5.1-chat-latest",    O200K, 400_000,   True,  Tiles(70, 140),     NONE,   False, MAX,            CHAT),
    ("o1",                     O200K, 200_000,   True,  Tiles(75, 150),     EFFORT, True,  MAX_COMPLETION, THINKING),
    ("o3-pro",                 O200K, 200_000,   True,  Tiles(75, 150),     EFFORT, True,  MAX_COMPLETION, THINKING),
    ("o1-mini",                O200K, 128_000,   False, Tiles(75, 150),     EFFORT, True,  MAX_COMPLETION, THINKING),
    ("o3-mini",                O200K, 200_000,   False, Tiles(75, 150),     EFFORT, True,  MAX_COMPLETION, THINKING),
    ("o4",                     O200K, 200_000,   True,  None,               EFFORT, True,  MAX_COMPLETION, THINKING),
    ("o4-mini-2025-04-16",     O200K, 200_000,   True,  Patches(1.72),      EFFORT, True,  MAX_COMPLETION, THINKING),
    ("gpt-4-0613",             CL100K, 8_192,    None,  None,               NONE,   False, MAX,            CHAT),
    ("gpt-4-32k",              CL100K, 32_768,   None,  None,               NONE,   False, MAX,            CHAT),
    ("gpt-4-turbo",            CL100K, 128_000,  True,  Tiles(85, 170),     NONE,   False, MAX,            CHAT),
    ("gpt-4-1106-preview",     CL100K, 128_000,  None,  None,               NONE,   False, MAX,            CHAT),
    ("gpt-3.5-turbo",          CL100K, 16_385,   None,  None,               NONE,   False, MAX,            CHAT),
    ("gpt-3.5-turbo-instruct", CL100K, 4_096,    None,  None,               NONE,   False, MAX,            CHAT),
    ("gpt-35-turbo",           CL100K, None,     None,  None,               NONE,   False, MAX,            CHAT),
    ("gpt-oss-120b",           O200K, None,      None,  None,               FIELD,  True,  MAX,            CHAT),
    ("deepseek-r1:8b",         O200K, None,      None,  None,               THINK,  False, MAX,            CHAT),
    ("llava:13b",              O200K, None,      True,  None,               NONE,   False, MAX,            CHAT),
    ("gemma3:27b",             O200K, None,      True,  None,               NONE,   False, MAX,            CHAT),
    ("llama3.1:8b",            O200K, None,      None,  None,               NONE,   False, MAX,            CHAT),
]
# fmt: on


@pytest.mark.parametrize(
    ("name", "encoding", "window", "vision", "images", "reasoning", "effort", "field", "allowance"),
    TABLE,
    ids=[line[0] for line in TABLE],
)
def test_the_families(name, encoding, window, vision, images, reasoning, effort, field, allowance):
    row = family(name)
    assert (row.encoding, row.window, row.vision, row.images) == (encoding, window, vision, images)
    assert (row.reasoning, row.takes_effort) == (reasoning, effort)
    assert (row.token_parameter, row.completion_tokens) == (field, allowance)


def test_every_family_has_a_line_in_the_table():
    assert {family(line[0]) for line in TABLE} == {*FAMILIES, UNKNOWN}


def test_each_prefix_belongs_to_one_family_and_is_a_bare_lower_case_name():
    prefixes = [prefix for row in FAMILIES for prefix in row.prefixes]
    assert len(prefixes) == len(set(prefixes))
    assert all(p == p.lower().strip() and "/" not in p and ":" not in p for p in prefixes)


def test_every_encoding_is_one_the_bot_ships():
    assert {row.encoding for row in (*FAMILIES, UNKNOWN)} <= set(_VOCABULARY_URLS)


@pytest.mark.parametrize(
    ("name", "same_as"),
    [
        ("openai/gpt-5-mini", "gpt-5-mini"),  # OpenRouter, LiteLLM
        ("azure/o3-mini", "o3-mini"),
        ("openrouter/openai/GPT-4o-Mini", "gpt-4o-mini"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc", "gpt-4o-mini"),
        (" GPT-4.1-nano ", "gpt-4.1-nano"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the longest prefix wins: not gpt-4o's
        ("gpt-4-turbo-preview", "gpt-4-turbo"),  # not gpt-4's
        ("gpt-5.2", "gpt-5"),  # a name may go on with a digit, a dot, a dash or a colon
        ("o3-deep-research", "o3"),
        ("qwen2.5vl:7b", "llava"),
    ],
)
def test_names_are_matched_by_their_longest_prefix(name, same_as):
    assert family(name) is family(same_as)


@pytest.mark.parametrize("name", ["o1x", "omni-7b", "gpt-4oo", "llavax", "", "openai/"])
def test_a_prefix_the_name_goes_on_from_with_a_letter_does_not_match(name):
    assert family(name) is UNKNOWN


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


def test_windows_and_override():
    assert context_window("gpt-4o-mini") == 128_000
    assert context_window("gpt-4") == 8_192
    assert context_window("gpt-4.1-mini") == 1_047_576
    assert context_window("llama3.1") == 8_192
    assert context_window("gpt-4o", 4000) == 4000


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("o5", Reasoning.EFFORT),  # o-series names newer than the table
        ("o7-mini-2027-01-01", Reasoning.EFFORT),
        ("openai/o6-pro", Reasoning.EFFORT),
        ("gpt-5.3-chat-latest", Reasoning.NONE),  # a GPT-5 chat variant newer than the table
        ("gpt-5-mini-chat", Reasoning.NONE),
        ("gpt-5.3", Reasoning.EFFORT),
        ("o1x", Reasoning.NONE),  # not o-series: the name goes on with a letter
    ],
)
def test_openais_naming_rules_cover_models_newer_than_the_table(model, reasoning):
    assert family(model).reasoning is reasoning
