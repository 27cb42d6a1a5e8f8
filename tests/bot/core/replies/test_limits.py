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


async def stored_reply(reply_world):
    turns = await reply_world.store.newest_turns(1, limit=10)
    return next(t for t in turns if t.role == "assistant")


@pytest.mark.parametrize("slow", [True, False], ids=["cut while streaming", "cut once done"])
async def test_a_reply_past_the_surfaces_messages_is_cut_short_with_its_note_shown(
    reply_world, slow
):
    reply_world.surface.limits = Limits(messages=2)
    reply_world.model.respond(Answer(LONG, slow=slow))
    await reply_world.say(101, "write a lot")
    await reply_world.idle()

    shown = reply_world.surface.texts
    assert len(shown) == 2 and shown[-1].endswith(texts.cut_at_message_limit)
    assert all(m.button is None for m in reply_world.surface.messages)  # no Stop button left
    reply = await stored_reply(reply_world)
    assert reply.status is TurnStatus.INTERRUPTED
    assert "".join(shown) == with_note(reply.content, texts.cut_at_message_limit)
    assert LONG.startswith(reply.content) and len(reply.content) < len(LONG)


async def test_a_reply_that_fits_is_not_cut(reply_world):
    assert len(split_parts(LONG)) == 5
    reply_world.surface.limits = Limits(messages=5)
    reply_world.model.respond(Answer(LONG, slow=True))
    await reply_world.say(101, "write a lot")
    await reply_world.idle()
    assert len(reply_world.surface.texts) == 5 and "".join(reply_world.surface.texts) == LONG
    assert (await stored_reply(reply_world)).content == LONG


async def test_a_reply_still_running_at_the_surfaces_deadline_ends_with_a_note(reply_world):
    reply_world.surface.limits = Limits(until=reply_world.replies.deps.clock() + 0.2)
    never = asyncio.Event()
    reply_world.model.respond(Answer("Half of it and the rest", pause=never))
    await reply_world.say(101, "question")
    await reply_world.idle()  # without the deadline, it would wait forever
    assert reply_world.surface.texts == [f"Half\n\n{texts.out_of_time}"]
    reply = await stored_reply(reply_world)
    assert (reply.status, reply.content) == (TurnStatus.INTERRUPTED, "Half")


async def test_a_reply_that_would_start_past_the_deadline_asks_the_model_nothing(reply_world):
    reply_world.surface.limits = Limits(until=reply_world.replies.deps.clock() - 1)
    await reply_world.say(101, "asked too late to be shown")
    await reply_world.idle()
    assert reply_world.model.requests == [] and reply_world.surface.texts == []
    assert await reply_world.history() == [("user", "asked too late to be shown")]

    reply_world.surface.limits = Limits()  # a later question there is answered with both
    await reply_world.say(102, "and now?")
    await reply_world.idle()
    assert [m["content"] for m in reply_world.model.requests[0][1:]] == [
        "asked too late to be shown", "and now?",
    ]  # fmt: skip
