"""Reasoning apart from the answer: the <think> splitter at every split point, and reasoning fields."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from bot.core.reasoning import ThinkSplitter, reasoning_field, split_reasoning

# (content as the model streams it, the answer, the reasoning)
CASES = [
    ("Hello", "Hello", ""),
    ("", "", ""),
    ("<think>hmm</think>Answer", "Answer", "hmm"),
    ("<think>a\nb</think>\n\nAnswer", "Answer", "a\nb"),
    (" \n <think>x</think> y", "y", "x"),
    ("<think></think>Answer", "Answer", ""),
    ("<think>cut at the length limit", "", "cut at the length limit"),
    ("<think>x</think>", "", "x"),
    ("<think>a<</think>b", "b", "a<"),
    ("<think>a</</think>b", "b", "a</"),
    ("<think>a </thinkx> b</think>c", "c", "a </thinkx> b"),
    ("<think>x</think><think>y</think>z", "<think>y</think>z", "x"),  # only the leading block
    ("<thinking>is not the tag", "<thinking>is not the tag", ""),
    ("< think>", "< think>", ""),
    ("<thi", "<thi", ""),  # a partial tag at the end is text
    ("<", "<", ""),
    ("\n\nHello", "\n\nHello", ""),
    ("Answer <think>quoted</think>", "Answer <think>quoted</think>", ""),
    ("x<think>y</think>", "x<think>y</think>", ""),
    ("  ", "", ""),
]


def run(chunks: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    parts = [splitter.feed(chunk) for chunk in chunks] + [splitter.finish()]
    return "".join(a for a, _ in parts), "".join(r for _, r in parts)


@pytest.mark.parametrize(("content", "answer", "reasoning"), CASES)
def test_every_two_chunk_split_gives_the_same_answer_and_reasoning(content, answer, reasoning):
    for i in range(len(content) + 1):
        assert run([content[:i], content[i:]]) == (answer, reasoning), i


@pytest.mark.parametrize(("content", "answer", "reasoning"), CASES)
def test_every_three_chunk_split_gives_the_same_answer_and_reasoning(content, answer, reasoning):
    for i in range(len(content) + 1):
        for j in range(i, len(content) + 1):
            chunks = [content[:i], content[i:j], content[j:]]
            assert run(chunks) == (answer, reasoning), (i, j)


@pytest.mark.parametrize(("content", "answer", "reasoning"), CASES)
def test_one_character_at_a_time(content, answer, reasoning):
    assert run(list(content)) == (answer, reasoning)


@pytest.mark.parametrize(("content", "answer", "reasoning"), CASES)
def test_a_complete_text(content, answer, reasoning):
    assert split_reasoning(content) == (answer, reasoning)


@pytest.mark.parametrize(
    ("chunks", "released"),
    [
        (["Hello"], [("Hello", "")]),  # plain answers are not held back
        (["<think>abc"], [("", "abc")]),  # reasoning flows as it comes
        (["<think>abc</th", "ink>Yes"], [("", "abc"), ("Yes", "")]),  # a possible tag waits
        (["<th", "ink>r", "</think>", "\n", "A"], [("", ""), ("", "r"), ("", ""), ("", ""), ("A", "")]),
        ([" ", "Hi"], [("", ""), (" Hi", "")]),  # leading space waits for what follows it
    ],
)  # fmt: skip
def test_text_is_released_as_soon_as_it_is_decided(chunks, released):
    splitter = ThinkSplitter()
    assert [splitter.feed(chunk) for chunk in chunks] == released


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (SimpleNamespace(reasoning_content="a"), "a"),
        (SimpleNamespace(reasoning="b"), "b"),
        (SimpleNamespace(reasoning_content="same", reasoning="same"), "same"),  # not twice
        (SimpleNamespace(reasoning_content=None, reasoning="c"), "c"),
        (SimpleNamespace(reasoning={"effort": "low"}), ""),  # not text: not reasoning
        (SimpleNamespace(content="answer"), ""),
        (ChoiceDelta.model_validate({"content": None, "reasoning_content": "d"}), "d"),
        (ChoiceDelta.model_validate({"reasoning": "e"}), "e"),
        (ChoiceDelta.model_validate({"content": "f"}), ""),
        ({"content": None, "reasoning_content": "g"}, "g"),  # a stream chunk's plain JSON
        ({"reasoning": "h", "content": ""}, "h"),
        ({"content": "i"}, ""),
    ],
)
def test_reasoning_fields(message, expected):
    assert reasoning_field(message) == expected
