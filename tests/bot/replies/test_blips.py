"""Nothing lost on a blip: a message that arrives while the database is unreachable is answered
once it is back (or the person is told to send it again), and a follow-up queued behind a reply
is answered whatever happens to that reply."""

from __future__ import annotations

import asyncio

from bot.replies import Submitted
from bot.store import StoreError, TurnStatus
from bot.texts import EN as texts

from .fakes import Answer


def roles_and_text(messages):
    return [(m["role"], m["content"]) for m in messages[1:]]  # without the persona


class Outage:
    """The store's ``add_turn`` fails ``times`` times (before or after it commits)."""

    def __init__(self, world, times: int, *, after_commit: bool = False, role: str = "user"):
        self.times, self.after_commit, self.role = times, after_commit, role
        self.calls = 0
        self._add_turn = world.store.add_turn
        world.store.add_turn = self.add_turn

    async def add_turn(self, conversation_id, **kwargs):
        if kwargs.get("role") != self.role or self.times <= 0:
            return await self._add_turn(conversation_id, **kwargs)
        self.calls += 1
        self.times -= 1
        if self.after_commit:
            await self._add_turn(conversation_id, **kwargs)  # committed; the answer was lost
        raise StoreError("lost the connection to database test (the change may be lost)")


def waits(world) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    world.replies.retry_delays = (1, 2, 4, 8)
    world.replies.sleep = sleep
    return slept


async def test_a_follow_up_queued_behind_a_reply_whose_display_was_cancelled_is_answered(world):
    # The soak's lost follow-up: a CancelledError leaking out of a reply (its display task, or
    # the thread it waited for, was cancelled) ended the queue's worker, silently.
    slow = asyncio.Event()
    world.model.respond(Answer("First.", gate=slow), Answer("For the follow-up."))
    await world.say(101, "one")
    await world.model.wait_for_requests(1)
    world.surface.fail_with.append(asyncio.CancelledError())  # the first post is cancelled
    assert await world.say(102, "a follow-up") is Submitted.QUEUED
    slow.set()
    await world.idle()

    assert len(world.model.requests) == 2
    assert roles_and_text(world.model.requests[1])[-1] == ("user", "a follow-up")
    assert "For the follow-up." in world.surface.texts
    assert (await world.history())[-1] == ("assistant", "For the follow-up.")
    assert world.replies.queued(1) == 0


async def test_a_message_that_arrives_during_an_outage_is_answered_once_the_database_is_back(
    world,
):
    slept = waits(world)
    outage = Outage(world, times=3)
    world.model.respond(Answer("Back again."))
    assert await world.say(101, "hello?") is Submitted.QUEUED
    await world.idle()

    assert outage.calls == 3 and slept == [1, 2, 4]
    assert world.surface.typing_count >= 1  # the wait was shown
    assert world.surface.texts == ["Back again."]
    assert world.surface.notices == []
    assert await world.history() == [("user", "hello?"), ("assistant", "Back again.")]


async def test_a_retry_after_a_write_that_committed_continues_with_that_turn(world):
    waits(world)
    Outage(world, times=1, after_commit=True)
    world.model.respond(Answer("Answered once."))
    assert await world.say(101, "hello?") is Submitted.QUEUED
    await world.idle()

    assert len(world.model.requests) == 1
    assert world.surface.texts == ["Answered once."]
    assert await world.history() == [("user", "hello?"), ("assistant", "Answered once.")]
    # The gateway delivering it again is still a duplicate.
    assert await world.say(101, "hello?") is Submitted.DUPLICATE


async def test_an_outage_longer_than_the_retries_tells_the_person_to_send_it_again(world):
    slept = waits(world)
    Outage(world, times=100)
    assert await world.say(101, "hello?") is Submitted.NOT_SAVED
    await world.idle()

    assert slept == [1, 2, 4, 8]
    assert world.surface.notices == [texts.not_saved]
    assert world.model.requests == []
    assert await world.history() == []


async def test_order_holds_while_the_first_message_waits_for_the_database(world):
    gate, asleep = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        asleep.set()
        await gate.wait()

    world.replies.retry_delays, world.replies.sleep = (1,), sleep
    Outage(world, times=1)
    world.model.respond(Answer("Both."))
    first = asyncio.create_task(world.say(101, "first"))
    await asleep.wait()
    second = asyncio.create_task(world.say(102, "second"))
    await asyncio.sleep(0)
    gate.set()
    assert await first is Submitted.QUEUED and await second is Submitted.QUEUED
    await world.idle()

    assert (await world.history())[:2] == [("user", "first"), ("user", "second")]


async def test_a_reply_that_cannot_start_during_an_outage_starts_once_it_is_back(world):
    waits(world)
    outage = Outage(world, times=2, role="assistant")
    world.model.respond(Answer("Late but here."))
    assert await world.say(101, "hello?") is Submitted.QUEUED
    await world.idle()

    assert outage.calls == 2
    assert world.surface.texts == ["Late but here."]
    turns = await world.store.newest_turns(1, limit=10)
    assert [t.status for t in turns] == [TurnStatus.COMPLETE, TurnStatus.COMPLETE]


async def test_a_reply_that_never_starts_tells_the_person(world):
    waits(world)
    Outage(world, times=100, role="assistant")
    assert await world.say(101, "hello?") is Submitted.QUEUED
    await world.idle()

    assert world.surface.notices == [texts.not_answered]
    assert world.model.requests == []
    assert await world.history() == [("user", "hello?")]  # kept: a later reply answers it
