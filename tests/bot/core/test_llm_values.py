"""Tool calls assembled from the pieces a stream brings them in (bot.core.llm.ToolCalls)."""

from __future__ import annotations

from bot.core.llm import ToolCall, ToolCalls


def test_pieces_by_index_make_whole_calls_in_order():
    calls = ToolCalls()
    calls.feed([{"index": 1, "id": "b", "function": {"name": "second", "arguments": ""}}])
    calls.feed([{"index": 0, "id": "a", "function": {"name": "first", "arguments": '{"x"'}}])
    calls.feed([{"index": 0, "function": {"arguments": ": 1}"}}])
    calls.feed([{"index": 1, "function": {"arguments": "{}"}}])
    assert calls.calls() == [ToolCall("a", "first", '{"x": 1}'), ToolCall("b", "second", "{}")]


def test_odd_pieces_are_passed_over_and_a_call_without_a_name_is_dropped():
    calls = ToolCalls()
    calls.feed("not a list")
    calls.feed([None, 3, {"index": 0, "function": {"arguments": "{}"}}])  # never named
    calls.feed([{"index": 1, "function": {"name": "named"}}])  # no id: one is made up
    assert calls.calls() == [ToolCall("call_1", "named", "")]
