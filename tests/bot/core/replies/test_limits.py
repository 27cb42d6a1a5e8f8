"""Surfaces that take only so much of a reply (an interaction's webhook: a few messages, for 15
minutes): the reply is cut short with a note that is shown, and stored as shown."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.render import split_parts, with_note
from bot.core.replies import Limits
from bot.core.store import TurnStatus
from bot.core.texts import EN as texts

from .fakes import Answer

LONG = " ".join(f"word{i}" for i in range(1200))  # 9,689 characters: 5 messages


async def stored_reply(world):
    turns = await world.store.newest_turns(1, limit=10)
    return next(t for t in turns if t.role == "assistant")


@pytest.mark.parametrize("slow", [True, False], ids=["cut while streaming", "cut once done"])
async def test_a_reply_past_the_surfaces_messages_is_cut_short_with_its_note_shown(world, slow):
    world.surface.limits = Limits(messages=2)
    world.model.respond(Answer(LONG, slow=slow))
    await world.say(101, "write a lot")
    await world.idle()

    shown = world.surface.texts
    assert len(shown) == 2 and shown[-1].endswith(texts.cut_at_message_limit)
    assert all(m.button is None for m in world.surface.messages)  # no Stop button left
    reply = await stored_reply(world)
    assert reply.status is TurnStatus.INTERRUPTED
    assert "".join(shown) == with_note(reply.content, texts.cut_at_message_limit)
    assert LONG.startswith(reply.content) and len(reply.content) < len(LONG)


async def test_a_reply_that_fits_is_not_cut(world):
    assert len(split_parts(LONG)) == 5
    world.surface.limits = Limits(messages=5)
    world.model.respond(Answer(LONG, slow=True))
    await world.say(101, "write a lot")
    await world.idle()
    assert len(world.surface.texts) == 5 and "".join(world.surface.texts) == LONG
    assert (await stored_reply(world)).content == LONG


async def test_a_reply_still_running_at_the_surfaces_deadline_ends_with_a_note(world):
    world.surface.limits = Limits(until=world.replies.deps.clock() + 0.2)
    never = asyncio.Event()
    world.model.respond(Answer("Half of it and the rest", pause=never))
    await world.say(101, "question")
    await world.idle()  # without the deadline, it would wait forever
    assert world.surface.texts == [f"Half\n\n{texts.out_of_time}"]
    reply = await stored_reply(world)
    assert (reply.status, reply.content) == (TurnStatus.INTERRUPTED, "Half")


async def test_a_reply_that_would_start_past_the_deadline_asks_the_model_nothing(world):
    world.surface.limits = Limits(until=world.replies.deps.clock() - 1)
    await world.say(101, "asked too late to be shown")
    await world.idle()
    assert world.model.requests == [] and world.surface.texts == []
    assert await world.history() == [("user", "asked too late to be shown")]

    world.surface.limits = Limits()  # a later question there is answered with both
    await world.say(102, "and now?")
    await world.idle()
    assert [m["content"] for m in world.model.requests[0][1:]] == [
        "asked too late to be shown", "and now?",
    ]  # fmt: skip
