"""Crash recovery: only a dead process's unfinished replies are taken over, and what a restart
makes of a reply a crash left half-shown."""

from __future__ import annotations

import pytest

from bot.core.discord_limits import MESSAGE_LIMIT
from bot.core.recovery import DEAD_AFTER, Workers, mend, unfinished
from bot.core.store import TurnStatus
from bot.core.texts import EN as texts

NOTE = texts.interrupted_by_restart


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


@pytest.mark.parametrize(
    ("shown", "stored", "contents", "apart"),
    [
        (["Half of an answer ▌"], "Half of an answer", [f"Half of an answer\n\n{NOTE}"], False),
        (
            ["Part one. ", "Part two ▌"],
            "Part one. Part two",
            ["Part one. ", f"Part two\n\n{NOTE}"],
            False,
        ),
        ([f"{texts.retrying} ▌"], "", [f"{texts.retrying}\n\n{NOTE}"], False),
        ([f"{texts.thinking(12)} ▌"], "", [f"{texts.thinking(12)}\n\n{NOTE}"], False),
        (["```py\nx = 1 ▌"], "```py\nx = 1", [f"```py\nx = 1\n```\n\n{NOTE}"], False),
        (["y" * 1990 + " ▌"], "y" * 1990, ["y" * 1990], True),  # the note would not fit
    ],
)
def test_mend(shown, stored, contents, apart):
    plan = mend(shown)
    assert (plan.stored, plan.contents, plan.note_apart) == (stored, contents, apart)
    assert all(len(content) <= MESSAGE_LIMIT for content in plan.contents)


@pytest.mark.parametrize(
    ("content", "components", "expected"),
    [("text ▌", False, True), ("done", True, True), ("done", False, False)],
)
def test_unfinished(content, components, expected):
    assert unfinished(content, components) is expected
