"""Token counts match what the API reports for OpenAI's published examples."""

from __future__ import annotations

import hashlib

import pytest

from bot.core.tokens import TokenCounter, ensure_vocabularies

# The example from OpenAI's cookbook "How to count tokens with tiktoken"; the API reported
# 129 prompt tokens for gpt-3.5-turbo / gpt-4 and 124 for gpt-4o / gpt-4o-mini.
COOKBOOK = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)],
)
def test_cookbook_example_matches_api_prompt_tokens(model, expected):
    assert TokenCounter.for_model(model).prompt(COOKBOOK) == expected


def test_single_user_message_matches_api():
    # gpt-4o-mini reported usage.prompt_tokens == 17 for this one message.
    counter = TokenCounter.for_model("gpt-4o-mini")
    assert counter.prompt([{"role": "user", "content": "Who won the World Cup in 2022?"}]) == 17


@pytest.mark.parametrize(
    ("model", "encoding"),
    [("gpt-4o-mini", "o200k_base"), ("gpt-4.1-nano", "o200k_base"), ("o3-mini", "o200k_base"),
     ("gpt-5", "o200k_base"), ("ft:gpt-4o-mini:acme::abc", "o200k_base"), ("gpt-4-turbo", "cl100k_base"),
     ("gpt-3.5-turbo", "cl100k_base"), ("llama3.1", "o200k_base"), ("openai/gpt-4", "cl100k_base")],
)  # fmt: skip
def test_encoding_by_model(model, encoding):
    assert TokenCounter.for_model(model).encoding.name == encoding


def test_cjk_and_emoji_are_counted_exactly():
    counter = TokenCounter.for_model("gpt-4o")
    text = "你好，世界！🎉👍🏽 こんにちは"
    assert counter.count(text) == len(counter.encoding.encode(text))
    assert counter.message("user", text) == 3 + 1 + counter.count(text)
    assert counter.message("user", text, "alice") == 3 + 1 + counter.count(text) + 1 + 1


def test_special_token_text_is_plain_text():
    counter = TokenCounter.for_model("gpt-4o")
    assert counter.count("<|endoftext|>") > 1


def test_truncate_middle_keeps_both_ends_within_limit():
    counter = TokenCounter.for_model("gpt-4o")
    text = "START " + "lorem ipsum " * 2000 + " END"
    cut = counter.truncate_middle(text, 200, " [cut] ")
    assert counter.count(cut) <= 200
    assert cut.startswith("START") and cut.endswith("END") and "[cut]" in cut


def test_vocabularies_are_seeded_under_tiktoken_cache_names(tmp_path):
    ensure_vocabularies(tmp_path)
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    seeded = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    # tiktoken's own published SHA-256 for o200k_base: the seeded file is byte-identical.
    assert hashlib.sha256(seeded.read_bytes()).hexdigest() == (
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
    )
