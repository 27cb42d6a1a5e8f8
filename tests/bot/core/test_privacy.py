"""Privacy's rules over a real store: what a deletion forgets, and a purge that must wait."""

from __future__ import annotations

import pytest

from bot.core.conversation_index import ConversationIndex
from bot.core.privacy import Privacy, legacy_names
from bot.services.store import SQLiteStore


class PurgeBusyOnce(SQLiteStore):
    """A store whose first purge finds the write-ahead log in use."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.purges: list[bool] = []

    async def purge(self) -> bool:
        self.purges.append(bool(self.purges))
        return self.purges[-1]


@pytest.fixture
async def store():
    store = PurgeBusyOnce()
    await store.open()
    yield store
    await store.close()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Alice W.", "alice", ""], ["Alice_W", "alice"]),
        (["小明"], []),  # stored as the generic "user", which many people share: never matched
        (["a-b", "a-b"], ["a-b"]),
    ],
)
def test_legacy_names_are_the_stored_form_without_the_shared_fallback(names, expected):
    assert legacy_names(names) == expected


async def test_an_unfinished_purge_is_retried_by_the_next_sweep(store):
    privacy = Privacy(store, ConversationIndex())
    await store.create_conversation(1, guild_id=None, parent_id=None, owner_id=7)
    await store.add_turn(1, role="user", content="x", tokens=1, message_id=1, author_id=7)
    assert await privacy.forget_user(7) == 1
    assert store.purges == [False]
    await privacy.sweep()  # nothing else deleted: only the pending purge
    assert store.purges == [False, True]
    await privacy.sweep()
    assert store.purges == [False, True]  # nothing pending, nothing deleted: no purge


async def test_a_deleted_channel_forgets_its_conversations_in_memory_too(store):
    index = ConversationIndex()
    privacy = Privacy(store, index)
    for conversation_id, parent in ((1, 20), (2, 1), (3, 21)):
        await store.create_conversation(conversation_id, guild_id=10, parent_id=parent,
                                        owner_id=7)  # fmt: skip
        index.remember(conversation_id, True)
    assert await privacy.place_deleted(20) == [1, 2]
    assert index.lookup(1) is False and index.lookup(2) is False and index.lookup(3) is True
    assert await store.get_conversation(3) is not None
