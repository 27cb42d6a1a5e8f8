"""End to end: the Stop button is one handler for every reply, so discord.py keeps nothing per
message or per edit, and a press on a button from before a restart is still answered."""

from __future__ import annotations

import asyncio
import copy

from tests.e2e.test_chat import ask, streaming, texts_in
from tests.e2e.test_streaming import bot_knows, finished
from tests.fakes.openai_server import Script

DEFERRED_UPDATE = 6  # the interaction callback type for "acknowledged, nothing to show"


def kept_views(bot) -> int:
    """What discord.py's view store holds per message: dispatch entries and synced views."""
    store = bot._connection._view_store
    return sum(len(items) for items in store._views.values()) + len(store._synced_message_views)


async def test_streaming_edits_keep_nothing_in_the_view_store(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    before = kept_views(bot)
    text = " ".join(f"word{i}" for i in range(100))  # about 4 s of streaming each
    fake_openai.respond(*[Script(text=text, chunk_size=12, delay=0.07) for _ in range(4)])
    threads = [await ask(fake_discord, world, f"story {i}") for i in range(4)]
    most = 0
    while not all(finished(fake_discord, t) for t in threads):  # sampled while they stream
        most = max(most, kept_views(bot))
        await asyncio.sleep(0.05)

    edits = sum(m["edits"] for t in threads for m in fake_discord.bot_messages(t))
    assert edits >= 8  # several edits each, every one but the last with the Stop button
    assert all(texts_in(fake_discord, t) == [text] for t in threads)
    assert most == before and kept_views(bot) == before
    assert (
        len(bot._connection._view_store._dynamic_items) == 4
    )  # Stop, Reasoning, Tools, Speak: once each


async def test_the_stop_button_names_its_conversation(fake_discord, fake_openai, world, start_bot):
    bot = await start_bot()
    gate = asyncio.Event()
    fake_openai.respond(Script(text="Going on and on and on", chunk_size=6, gate=gate))
    thread_id = await ask(fake_discord, world, "talk")
    message = await fake_discord.wait_for(
        lambda: next((m for m in fake_discord.bot_messages(thread_id) if streaming(m)), None)
    )
    await bot_knows(fake_discord, bot, message)
    (button,) = [c for row in message["components"] for c in row["components"]]
    assert (button["custom_id"], button["label"]) == (f"stop:{thread_id}", "Stop")
    await fake_discord.click(message, world.alice)
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id))
    gate.set()
    assert texts_in(fake_discord, thread_id) == ["Going \n\n*(stopped)*"]


async def test_a_stop_button_from_before_a_restart_is_still_answered(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    gate = asyncio.Event()
    fake_openai.respond(Script(text="Interrupted by a restart", chunk_size=6, gate=gate))
    thread_id = await ask(fake_discord, world, "talk")
    message = await fake_discord.wait_for(
        lambda: next((m for m in fake_discord.bot_messages(thread_id) if streaming(m)), None)
    )
    await bot_knows(fake_discord, bot, message)
    left_over = copy.deepcopy(message)  # as a client that has not refreshed still shows it
    await bot.close()
    gate.set()
    await start_bot()

    responses = len(fake_discord.interaction_responses)
    await fake_discord.click(left_over, world.alice)
    answer = await fake_discord.wait_for(lambda: fake_discord.interaction_responses[responses:])
    assert [r["type"] for r in answer] == [DEFERRED_UPDATE]  # answered: no "interaction failed"
