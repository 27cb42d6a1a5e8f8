"""Several processes on one database: only a dead process's unfinished replies are taken over."""

from __future__ import annotations

import pytest

from bot.core.liveness import DEAD_AFTER, Workers
from bot.core.store import TurnStatus


@pytest.fixture
def store(conversation_store):
    return conversation_store


async def test_a_starting_process_takes_over_only_what_dead_ones_left(store):
    alive = Workers(store, name="alive")
    dead = Workers(store, name="dead")
    await alive.beat()
    await store.heartbeat(dead.name, ago=DEAD_AFTER + 1)  # its last heartbeat, over a minute ago
    mine = await store.add_turn(1, role="assistant", content="", tokens=1,
                                status=TurnStatus.STREAMING, worker="alive")  # fmt: skip
    left = await store.add_turn(1, role="assistant", content="", tokens=1,
                                status=TurnStatus.STREAMING, worker="dead")  # fmt: skip
    old = await store.add_turn(
        1, role="assistant", content="", tokens=1, status=TurnStatus.STREAMING
    )  # fmt: skip  (before workers)

    starting = Workers(store, name="new")
    await starting.beat()
    assert await starting.live() == {"alive", "new"}
    taken = await starting.adopt_orphans()
    assert sorted(t.seq for t in taken) == sorted([left.seq, old.seq])
    (still,) = [t for t in await store.newest_turns(1, limit=5) if t.seq == mine.seq]
    assert still.status is TurnStatus.STREAMING  # a live process's reply is its own

    await alive.retire()  # a clean stop: gone from the live set at once
    assert await starting.live() == {"new"}


async def test_a_restarted_process_takes_over_its_own_unfinished_replies(store):
    before = Workers(store, name="main")
    await before.beat()
    left = await store.add_turn(1, role="assistant", content="", tokens=1,
                                status=TurnStatus.STREAMING, worker="main")  # fmt: skip
    after = Workers(store, name="main")  # the same process, restarted after a crash
    assert [t.seq for t in await after.adopt_orphans(starting=True)] == [left.seq]
