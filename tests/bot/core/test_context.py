"""The request builder: order, persona kept, oldest dropped whole, truncation, exact counts."""

from __future__ import annotations

import itertools

import pytest

from bot.core.context import (
    TRUNCATION_MARKER,
    Budget,
    alternate,
    api_name,
    build_request,
)
from bot.core.store import Turn, TurnStatus
from bot.core.tokens import TokenCounter

COUNTER = TokenCounter.for_model("gpt-4o-mini")


def turns(*contents: str, name: str | None = "alice") -> list[Turn]:
    """Turns oldest first, alternating user/assistant, tokens counted as the store would."""
    result = []
    for seq, content in enumerate(contents, 1):
        role = "user" if seq % 2 else "assistant"
        author = name if role == "user" else None
        tokens = COUNTER.message(role, content, author)
        result.append(Turn(seq, 1, seq, role, content, author, tokens, TurnStatus.COMPLETE))
    return result


def newest_first(items):
    return list(reversed(items))


def test_persona_first_then_turns_oldest_to_newest():
    history = turns("hi", "hello!", "how are you?")
    request = build_request(COUNTER, Budget(8000, 1000), "Be kind.", newest_first(history))
    assert request.messages == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "hi", "name": "alice"},
        {"role": "assistant", "content": "hello!"},
        {"role": "user", "content": "how are you?", "name": "alice"},
    ]
    assert not request.dropped and not request.truncated


def test_prompt_tokens_equal_an_independent_count():
    history = turns(
        "Bonjour 🇫🇷", "Salut ! Ça va ?", "日本語で答えてください。", "はい、わかりました。", "ok"
    )
    request = build_request(COUNTER, Budget(8000, 1000), "persona", newest_first(history))
    assert request.prompt_tokens == COUNTER.prompt(request.messages)


@pytest.mark.parametrize("window", [60, 80, 100, 150, 400])
def test_oldest_turns_dropped_whole_and_budget_respected(window):
    history = turns(*[f"message number {i} with some words" for i in range(40)])
    budget = Budget(window + 20, 20)
    request = build_request(COUNTER, budget, "sys", newest_first(history))
    assert request.prompt_tokens == COUNTER.prompt(request.messages) <= budget.prompt
    kept = request.messages[1:]
    assert [m["content"] for m in kept] == [t.content for t in history[len(history) - len(kept) :]]
    assert request.dropped


def test_a_single_huge_newest_turn_is_truncated_in_the_middle():
    huge = "BEGIN " + "word " * 5000 + "FINISH"
    history = turns("older", "reply", huge)
    budget = Budget(600, 100)
    request = build_request(COUNTER, budget, "sys", newest_first(history))
    assert request.truncated and request.turns == 1
    content = request.messages[-1]["content"]
    assert content.startswith("BEGIN") and content.endswith("FINISH")
    assert TRUNCATION_MARKER.strip() in content
    assert request.prompt_tokens == COUNTER.prompt(request.messages) <= budget.prompt


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("alice", "alice"),
        ("Zoë the Great!", "Zo_the_Great"),
        ("🎉🎉", "user"),
        ("a" * 80, "a" * 64),
    ],
)
def test_api_names(display, expected):
    assert api_name(display) == expected


SYSTEM = {"role": "system", "content": "persona"}


def user(text, name="alice"):
    return {"role": "user", "content": text, "name": name}


def assistant(text):
    return {"role": "assistant", "content": text}


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([SYSTEM, user("hi")], [SYSTEM, user("hi")]),
        (  # one author twice: the texts joined, the name kept
            [SYSTEM, user("one"), user("two")],
            [SYSTEM, user("one\n\ntwo")],
        ),
        (  # several authors: each under their name
            [SYSTEM, assistant("a"), user("q1"), user("q2", "bob")],
            [SYSTEM, {"role": "user", "content": "alice: q1\n\nbob: q2"}],
        ),
        (  # an answer cut short then its continuation; the history starts with a user turn
            [SYSTEM, assistant("old"), user("q"), assistant("part"), assistant("rest"), user("q2")],
            [SYSTEM, user("q"), assistant("part\n\nrest"), user("q2")],
        ),
    ],
)
def test_alternate_merges_same_role_turns(messages, expected):
    merged = alternate(messages)
    assert merged == expected
    roles = [m["role"] for m in merged[1:]]
    assert all(a != b for a, b in itertools.pairwise(roles)) and roles[0] == "user"
