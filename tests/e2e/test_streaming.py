"""End to end: progressive edits, long replies in balanced parts, 429s, Stop, broken streams."""

from __future__ import annotations

import asyncio

from bot.core.discord_limits import MESSAGE_LIMIT
from bot.core.render import CURSOR, open_fence
from bot.core.store import TurnStatus
from tests.e2e.test_chat import ask, streaming, texts_in
from tests.fakes.openai_server import Script


def finished(fake_discord, thread_id, parts=1):
    messages = fake_discord.bot_messages(thread_id)
    return (
        len(messages) >= parts
        and not any(streaming(m) for m in messages)
        and all(CURSOR not in m["content"] for m in messages)
    )


async def bot_knows(fake_discord, bot, message):
    """Wait until the bot has the reply message (and its Stop button) as its own."""
    line = bot.core.replies._lines.get(int(message["channel_id"]))
    await fake_discord.wait_for(
        lambda: line and line.running and int(message["id"]) in line.running.display.messages
    )


async def test_slow_reply_is_edited_progressively_and_ends_exact(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    text = " ".join(f"word{i}" for i in range(120))
    fake_openai.respond(Script(text=text, chunk_size=12, delay=0.05))  # about 3.5 s of streaming
    thread_id = await ask(fake_discord, world, "tell me a story")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id), timeout=15)

    (message,) = fake_discord.bot_messages(thread_id)
    assert message["content"] == text
    assert message["edits"] >= 3  # progressive edits, not one post at the end
    assert fake_discord.edit_429s == 0


async def test_long_reply_with_code_arrives_in_balanced_parts(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    code = "\n".join(f"    result_{i} = compute({i}) * 2  # step {i}" for i in range(120))
    text = "Here is the program:\n\n```python\n" + code + "\n```\n\nAnd some closing words."
    assert len(text) > 5000
    fake_openai.respond(Script(text=text, chunk_size=400, delay=0.02))
    thread_id = await ask(fake_discord, world, "write code")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id, parts=3), timeout=20)

    parts = texts_in(fake_discord, thread_id)
    assert all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert all(open_fence(p) is None for p in parts)
    assert all(p.startswith("```python\n") for p in parts[1:-1])
    joined = "".join(parts).replace("\n```python\n", "\n").replace("```\n```python\n", "")
    for line in code.splitlines():
        assert line in joined
    assert fake_discord.edit_429s == 0


async def test_an_injected_429_on_an_edit_still_ends_with_the_right_text(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    text = "Rate limits are handled. " * 20
    fake_openai.respond(Script(text=text, chunk_size=25, delay=0.05))
    fake_discord.fail("PATCH", r"/channels/\d+/messages/\d+", 429, times=1, retry_after=0.3)
    thread_id = await ask(fake_discord, world, "go")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id), timeout=15)
    assert texts_in(fake_discord, thread_id) == [text.strip()] or texts_in(
        fake_discord, thread_id
    ) == [text]
    assert fake_discord.all_429s == 1


async def test_a_5xx_on_an_edit_is_retried(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    fake_openai.respond(Script(text="Survives a server error.", chunk_size=5, delay=0.05))
    fake_discord.fail("PATCH", r"/channels/\d+/messages/\d+", 500, times=1)
    thread_id = await ask(fake_discord, world, "go")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id), timeout=15)
    assert texts_in(fake_discord, thread_id) == ["Survives a server error."]


async def test_stop_button_keeps_partial_text_and_stores_it_interrupted(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    gate = asyncio.Event()
    fake_openai.respond(
        Script(text="The beginning of a very long answer that never ends", chunk_size=17, gate=gate)
    )
    thread_id = await ask(fake_discord, world, "talk forever")
    message = await fake_discord.wait_for(
        lambda: next((m for m in fake_discord.bot_messages(thread_id) if m["components"]), None)
    )
    await bot_knows(fake_discord, bot, message)
    await fake_discord.click(message, world.bob)  # not the asker, no Manage Messages: refused
    await fake_discord.wait_for(
        lambda: any(
            r.get("data", {}).get("flags") == 64 for r in fake_discord.interaction_responses
        )
    )
    await fake_discord.click(message, world.alice)
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id), timeout=10)
    gate.set()

    assert texts_in(fake_discord, thread_id) == ["The beginning of \n\n*(stopped)*"]
    (turn, *_) = await bot.services.store.newest_turns(thread_id, limit=1)
    assert (turn.role, turn.content, turn.status) == (
        "assistant",
        "The beginning of ",
        TurnStatus.INTERRUPTED,
    )


async def test_deleting_the_prompt_cancels_the_reply(fake_discord, fake_openai, world, start_bot):
    bot = await start_bot()
    gate = asyncio.Event()
    fake_openai.respond(Script(text="Partial then more", chunk_size=8, gate=gate))
    thread_id = await ask(fake_discord, world, "first")
    await fake_discord.wait_for(lambda: fake_discord.bot_messages(thread_id))
    prompt = next(m for m in fake_discord.messages[world.channel] if int(m["id"]) == thread_id)
    await fake_discord.user_deletes(prompt)
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id), timeout=10)
    gate.set()
    assert texts_in(fake_discord, thread_id) == ["Partial \n\n*(stopped)*"]
    turns = await bot.services.store.newest_turns(thread_id, limit=5)
    assert [t.role for t in turns] == ["assistant"]  # the deleted prompt left the history


async def test_stream_that_dies_keeps_the_partial_text_marked_cut_off(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    fake_openai.respond(
        Script(text="abcdefghij" * 10, chunk_size=10, die_after=3), Script(text="Back to normal.")
    )
    thread_id = await ask(fake_discord, world, "go")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id), timeout=10)
    (shown,) = texts_in(fake_discord, thread_id)
    assert shown.startswith("abcdefghij" * 3) and shown.endswith(
        "*(cut off: the model service stopped mid-reply)*"
    )
    (turn,) = await bot.services.store.newest_turns(thread_id, limit=1)
    assert turn.status is TurnStatus.INTERRUPTED and turn.content == "abcdefghij" * 3

    await ask(fake_discord, world, "again", channel=thread_id, mention=False)  # next message works
    await fake_discord.wait_for(lambda: "Back to normal." in texts_in(fake_discord, thread_id))


async def bot_knows_no_reply(fake_discord, bot, thread_id):
    await fake_discord.wait_for(lambda: not bot.core.replies.busy(thread_id))


async def test_deleting_the_reply_stops_quietly(fake_discord, fake_openai, world, start_bot):
    bot = await start_bot()
    fake_openai.respond(
        Script(text="x " * 400, chunk_size=10, delay=0.02), Script(text="Next one fine.")
    )
    thread_id = await ask(fake_discord, world, "go")
    message = await fake_discord.wait_for(
        lambda: next(iter(fake_discord.bot_messages(thread_id)), None)
    )
    fake_discord.messages[thread_id].remove(message)  # a moderator deletes the reply
    await fake_discord.wait_for(  # the bot's next edit finds it gone...
        lambda: any(
            r.status == 404 and r.path.endswith(message["id"]) for r in fake_discord.requests
        )
    )
    await bot_knows_no_reply(fake_discord, bot, thread_id)  # ...and stops
    await ask(fake_discord, world, "again", channel=thread_id, mention=False)
    await fake_discord.wait_for(
        lambda: "Next one fine." in texts_in(fake_discord, thread_id), timeout=10
    )


async def test_an_empty_reply_or_a_length_cut_is_said_plainly(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    fake_openai.respond(Script(text=""), Script(text="A long answer that", finish_reason="length"))
    thread_id = await ask(fake_discord, world, "say nothing")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id))
    assert texts_in(fake_discord, thread_id) == [
        "*(the model returned an empty reply; try rephrasing)*"
    ]
    await ask(fake_discord, world, "go on", channel=thread_id, mention=False)
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id, parts=2))
    assert (
        texts_in(fake_discord, thread_id)[1]
        == "A long answer that\n\n*(reply cut at the length limit; ask me to continue)*"
    )
