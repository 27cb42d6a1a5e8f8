"""The in-memory index of conversation ids: sure answers while complete, bounded always."""

from __future__ import annotations

from bot.core.conversation_index import ConversationIndex


def test_a_complete_index_answers_without_the_store():
    index = ConversationIndex(capacity=10)
    index.load([3, 2, 1], complete=True)
    assert [index.lookup(i) for i in (1, 2, 3, 4)] == [True, True, True, False]
    index.remember(4, True)
    assert index.lookup(4) is True
    index.remember(5, False)  # a complete index keeps no negatives
    assert len(index) == 4


def test_past_its_capacity_a_miss_is_unsure_and_answers_are_remembered():
    index = ConversationIndex(capacity=3)
    index.load([3, 2, 1], complete=True)  # newest first, as the store gives them
    index.remember(4, True)  # evicts the oldest, 1
    assert not index.complete and len(index) == 3
    assert index.lookup(1) is None  # only the store can tell now
    assert index.lookup(3) is True
    index.remember(1, False)
    assert index.lookup(1) is False and len(index) == 3


def test_an_incomplete_load_is_unsure_about_misses():
    index = ConversationIndex(capacity=2)
    index.load([9, 8], complete=False)
    assert index.lookup(9) is True and index.lookup(7) is None
