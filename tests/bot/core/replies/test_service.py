"""The reply lifecycle's rules, without Discord: order, queueing, deletion, edits, stopping,
draining, admission and failures to show a reply."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from bot.core.llm import Failure, LLMError
from bot.core.models import Price
from bot.core.ratelimit import Limit, LocalSpending
from bot.core.replies import Stop, Submitted
from bot.core.store import TurnStatus
from bot.core.texts import EN as texts

from .fakes import COUNTER, Answer, Clock, Gone, Refused, make_world


def roles_and_text(messages):
    return [(m["role"], m["content"]) for m in messages[1:]]  # without the persona


async def test_a_question_during_a_slow_reply_is_answered_after_it_in_order(reply_world):
    slow = asyncio.Event()
    reply_world.model.respond(Answer("For Alice.", gate=slow), Answer("For Bob."))
    await reply_world.say(101, "alice asks")
    await reply_world.model.wait_for_requests(1)
    assert await reply_world.say(102, "bob asks", author_id=8, name="bob") is Submitted.QUEUED
    slow.set()
    await reply_world.idle()

    first, second = reply_world.model.requests
    assert roles_and_text(first) == [("user", "alice asks")]
    assert roles_and_text(second) == [
        ("user", "alice asks"), ("assistant", "For Alice."), ("user", "bob asks"),
    ]  # fmt: skip
    assert await reply_world.history() == [*roles_and_text(second), ("assistant", "For Bob.")]


async def test_messages_queued_behind_a_reply_are_answered_together(reply_world):
    slow = asyncio.Event()
    reply_world.model.respond(Answer("First.", gate=slow), Answer("Both."))
    await reply_world.say(101, "one")
    await reply_world.model.wait_for_requests(1)
    await reply_world.say(102, "two", author_id=8, name="bob")
    await reply_world.say(103, "three", author_id=9, name="carol")
    slow.set()
    await reply_world.idle()

    assert len(reply_world.model.requests) == 2  # one reply for the two queued messages
    assert roles_and_text(reply_world.model.requests[1])[-2:] == [
        ("user", "two"),
        ("user", "three"),
    ]


async def test_a_reply_points_at_its_question_when_newer_messages_wait(reply_world):
    slow = asyncio.Event()
    reply_world.model.respond(Answer("Late answer.", gate=slow), Answer("Next."))
    await reply_world.say(101, "question")
    await reply_world.model.wait_for_requests(1)
    await reply_world.say(102, "a newer message")
    slow.set()
    await reply_world.idle()
    first, second = reply_world.surface.messages
    assert (first.text, first.reply_to) == ("Late answer.", 101)
    assert (second.text, second.reply_to) == ("Next.", None)  # nothing newer: no pointer


@pytest.mark.parametrize("edit", [False, True])
async def test_a_queued_message_deleted_is_not_answered_and_one_edited_is_answered_edited(
    reply_world, edit
):
    slow = asyncio.Event()
    reply_world.model.respond(Answer("First.", gate=slow))
    await reply_world.say(101, "first")
    await reply_world.model.wait_for_requests(1)
    await reply_world.say(102, "typo")

    def rewrite(stored: str) -> str:
        assert stored == "typo"  # the stored turn: the message is not read again
        return "fixed"

    if edit:
        assert await reply_world.replies.edit(1, 102, "alice", rewrite)
        assert not await reply_world.replies.edit(1, 999, "alice", rewrite)  # no such turn
    else:
        await reply_world.replies.forget(102, channel_id=1)
    slow.set()
    await reply_world.idle()

    if edit:
        assert roles_and_text(reply_world.model.requests[1])[-1] == ("user", "fixed")
    else:
        assert len(reply_world.model.requests) == 1  # nothing left to answer
        assert await reply_world.history() == [("user", "first"), ("assistant", "First.")]


async def test_deleting_the_question_being_answered_stops_the_reply(reply_world):
    slow = asyncio.Event()
    reply_world.model.respond(Answer("Never shown.", gate=slow))
    await reply_world.say(101, "question")
    await reply_world.model.wait_for_requests(1)
    await reply_world.replies.forget(101, channel_id=1)
    await reply_world.idle()
    assert reply_world.surface.texts == [texts.stopped]
    assert await reply_world.history() == []


async def test_a_stopped_stream_is_closed_by_the_reply_before_it_ends(reply_world):
    """Stopped between two deltas, the model stream is closed in the reply's own task, not left
    to the garbage collector (which closed it later, in a task of its own, and logged
    "aclose(): asynchronous generator is already running" now and then)."""
    many = " ".join(f"w{i}" for i in range(3000))
    reply_world.model.respond(Answer(many))
    await reply_world.say(101, "question", author_id=7)
    await reply_world.shown()
    assert reply_world.replies.stop(
        1, reply_world.surface.messages[0].id, 7, manage_messages=False
    ) is (Stop.STOPPED)
    await reply_world.idle()
    assert reply_world.model.closed_in == ["generate-1"]
    assert reply_world.surface.texts[-1].endswith(texts.stopped)
    [(role, content)] = (await reply_world.history())[1:]
    assert role == "assistant" and many.startswith(content) and len(content) < len(many)


@pytest.mark.parametrize(
    ("user_id", "moderator", "expected"),
    [(7, False, Stop.STOPPED), (8, True, Stop.STOPPED), (8, False, Stop.REFUSED)],
)
async def test_who_may_stop_a_reply(reply_world, user_id, moderator, expected):
    gate = asyncio.Event()
    reply_world.model.respond(Answer("Half of it", pause=gate))
    await reply_world.say(101, "question", author_id=7)
    await reply_world.shown()
    message = reply_world.surface.messages[0].id
    assert reply_world.replies.stop(1, message, user_id, manage_messages=moderator) is expected
    assert reply_world.replies.stop(1, 999, 7, manage_messages=False) is Stop.NOTHING
    gate.set()
    await reply_world.idle()
    stopped = expected is Stop.STOPPED
    assert reply_world.surface.texts[-1].endswith(texts.stopped) == stopped


async def test_drain_stops_running_replies_and_leaves_queued_ones_stored(reply_world):
    held = asyncio.Event()
    reply_world.model.respond(Answer("Half of it", pause=held))
    await reply_world.say(101, "running")
    await reply_world.shown()
    await reply_world.say(102, "queued")
    await reply_world.replies.drain(2)

    assert len(reply_world.model.requests) == 1  # no model request after the signal
    assert reply_world.surface.texts == [f"Half\n\n{texts.stopped_for_shutdown}"]
    assert not reply_world.surface.messages[0].button
    turns = await reply_world.store.newest_turns(1, limit=10)
    assert [(t.role, t.content, t.status) for t in reversed(turns)] == [
        ("user", "running", TurnStatus.COMPLETE),
        ("assistant", "Half", TurnStatus.INTERRUPTED),
        ("user", "queued", TurnStatus.COMPLETE),
    ]
    assert await reply_world.say(103, "after the signal") is Submitted.STORED


async def test_a_long_rate_limit_wait_is_told_and_leaves_no_reply_turn():
    clock = Clock()
    reply_world = await make_world(guild_rpm=1, clock=clock)
    await reply_world.say(101, "one")
    await reply_world.idle()
    await reply_world.say(102, "two")
    await reply_world.idle()
    assert len(reply_world.model.requests) == 1
    assert reply_world.surface.notices == [texts.rate_limited(Limit.SERVER_REQUESTS, 60.0)]
    assert await reply_world.history() == [
        ("user", "one"), ("assistant", "An answer."), ("user", "two"),
    ]  # fmt: skip
    clock.now += 61  # a minute later the next message answers both
    await reply_world.say(103, "three")
    await reply_world.idle()
    assert roles_and_text(reply_world.model.requests[1])[-2:] == [
        ("user", "two"),
        ("user", "three"),
    ]
    await reply_world.store.close()


async def test_rate_limit_notices_in_a_conversation_go_out_once_a_minute_per_person():
    clock = Clock()
    reply_world = await make_world(guild_rpm=1, clock=clock)
    refused = texts.rate_limited(Limit.SERVER_REQUESTS, 60.0)

    async def say(message_id: int, author_id: int = 7) -> None:
        await reply_world.say(message_id, f"message {message_id}", author_id=author_id)
        await reply_world.idle()

    await say(100)  # answered: the server's one request a minute is spent
    for message_id in range(101, 111):  # one person asks again and again: told once
        await say(message_id)
    assert reply_world.surface.notices == [refused]
    await say(111, author_id=8)  # another person is told all the same
    assert reply_world.surface.notices == [refused, refused]
    assert len(reply_world.model.requests) == 1  # none of the refused was asked of the model

    clock.now += 61  # a minute on: answered, then refused and told again
    await say(112)
    await say(113)
    assert len(reply_world.model.requests) == 2 and reply_world.surface.notices == [refused] * 3
    await reply_world.store.close()


@pytest.mark.parametrize(
    ("error", "notice"),
    [
        (Refused("Send Messages in Threads"), texts.cannot_post("Send Messages in Threads")),
        (Gone("deleted"), None),
    ],
)
async def test_a_reply_that_may_not_be_shown_stops_and_says_why(reply_world, error, notice):
    reply_world.surface.fail_with = [error]
    reply_world.model.respond(Answer("Some answer that is never shown"))
    await reply_world.say(101, "question")
    await reply_world.idle()
    assert reply_world.surface.notices == ([notice] if notice else [])
    assert reply_world.surface.messages == []
    assert await reply_world.history() == [("user", "question")]  # an unseen answer is not history


@pytest.mark.parametrize(
    ("answer", "note"),
    [
        (Answer("", finish_reason="length"), texts.allowance_spent),
        (Answer(""), texts.empty_reply),
        (Answer("Cut", finish_reason="length"), texts.length_limit),
        (
            Answer("", error=LLMError(Failure.UNAVAILABLE, "x")),
            texts.failure(Failure.UNAVAILABLE),
        ),
    ],
)
async def test_the_end_of_a_reply_says_how_it_ended(reply_world, answer, note):
    reply_world.model.respond(answer)
    await reply_world.say(101, "question")
    await reply_world.idle()
    assert reply_world.surface.texts[-1].endswith(note)
    assert not any(m.button for m in reply_world.surface.messages)
    history = await reply_world.history()
    assert history[-1][0] == ("assistant" if answer.text else "user")  # nothing said: no turn


async def test_a_reasoning_model_shows_that_it_thinks_and_only_its_answer_is_kept():
    clock = Clock()
    reply_world = await make_world(clock=clock)
    step = asyncio.Event()
    reply_world.model.respond(Answer("The answer.", reasoning=["Let me", " think"], thinking=step))
    await reply_world.say(101, "a hard question")
    await reply_world.shown()
    assert reply_world.surface.texts[0].startswith(texts.thinking(0))
    clock.now += 3
    step.set()
    await reply_world.idle()
    assert reply_world.surface.texts == ["The answer."]
    assert await reply_world.history() == [
        ("user", "a hard question"),
        ("assistant", "The answer."),
    ]
    await reply_world.say(102, "and then?")
    await reply_world.idle()
    assert "Let me" not in str(reply_world.model.requests[1])  # reasoning is never re-sent
    await reply_world.store.close()


async def spending_world(guild_rpm: int = 0, **budgets: float | None):
    """A reply_world whose default model has a price ($1 per thousand prompt tokens, and per
    thousand completion tokens) and whose replies keep daily budgets."""
    clock = Clock()
    reply_world = await make_world(guild_rpm=guild_rpm, clock=clock)
    deps = reply_world.replies.deps
    deps.models.prices["gpt-4o-mini"] = Price(1000, 1000)
    deps.models.add("gpt-4o-mini", COUNTER)
    spending = LocalSpending(budgets.get("user"), budgets.get("server"), clock=lambda: 1e9)
    reply_world.replies.deps = dataclasses.replace(deps, spending=spending)
    return reply_world, spending, clock


async def test_a_reply_reserves_its_worst_cost_and_settles_what_it_used():
    reply_world, spending, _ = await spending_world(user=100.0)
    await reply_world.say(101, "one")
    await reply_world.idle()
    stored = await reply_world.store.usage(guild_id=5, since=dt.date(2000, 1, 1))
    user, server = await spending.spent(7, 5)
    assert stored.cost > 0 and user == pytest.approx(stored.cost) == pytest.approx(server)
    assert user < 0.256  # far below the worst case: the 256-token allowance alone costs that
    await reply_world.store.close()


async def test_a_spent_budget_asks_the_model_nothing_and_a_refused_one_gives_back_its_reserve():
    reply_world, spending, clock = await spending_world(guild_rpm=1, server=0.5)
    await reply_world.say(101, "one")
    await reply_world.idle()
    first = (await spending.spent(7, 5))[1]
    await reply_world.say(102, "two")  # the limiter refuses: the reservation is given back
    await reply_world.idle()
    assert (await spending.spent(7, 5))[1] == pytest.approx(first)
    assert reply_world.surface.notices == [texts.rate_limited(Limit.SERVER_REQUESTS, 60.0)]
    await spending.charge(0, 5, 0.5)  # a summary spends the rest of the server's budget
    clock.now += 61
    for message_id in (103, 104):
        await reply_world.say(message_id, "more")
        await reply_world.idle()
    assert len(reply_world.model.requests) == 1
    assert reply_world.surface.notices[1:] == [
        texts.over_budget(Limit.SERVER_BUDGET, 86_400 - 1e9 % 86_400)
    ]
    await reply_world.store.close()


async def test_an_unpriced_model_is_never_asked_while_a_budget_is_set():
    reply_world = await make_world()
    deps = reply_world.replies.deps
    reply_world.replies.deps = dataclasses.replace(deps, spending=LocalSpending(5.0, None))
    await reply_world.say(101, "one")
    await reply_world.idle()
    assert reply_world.model.requests == []
    assert reply_world.surface.notices == [texts.model_unpriced("gpt-4o-mini")]
    await reply_world.store.close()
