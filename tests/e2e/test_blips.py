"""End to end, nothing lost on a blip: the database or Redis down for a while; a mention
delivered twice (a gateway replay, or two processes during a rolling deploy) is answered
exactly once, in one thread."""

from __future__ import annotations

import asyncio

from tests.e2e.test_chat import reply_done, texts_in
from tests.fakes.openai_server import Script


def threads_opened(fake_discord) -> int:
    return sum(1 for r in fake_discord.requests if r.path.endswith("/threads"))


async def test_a_mention_delivered_twice_to_one_process_is_answered_once(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    fake_openai.respond(Script(text="Answered once."))
    message = await fake_discord.user_says(world.channel, world.alice, "hello", mention_bot=True)
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, "Answered once.")
    await fake_discord.dispatch("MESSAGE_CREATE", message)  # the gateway replays it
    await asyncio.sleep(0.5)

    assert texts_in(fake_discord, thread_id) == ["Answered once."]
    assert texts_in(fake_discord, world.channel) == []  # no notice next to the mention
    assert len(fake_openai.requests) == 1
    turns = await bot.services.store.newest_turns(thread_id, limit=10)
    assert [(t.role, t.content) for t in reversed(turns)] == [
        ("user", "hello"), ("assistant", "Answered once."),
    ]  # fmt: skip


async def test_a_mention_delivered_to_two_processes_is_answered_once(
    fake_discord, fake_openai, world, start_bot
):
    # Two bots on one store, both given every event: the rolling-deploy overlap. Whichever
    # opens the thread second hears "already created" and uses that thread.
    first = await start_bot()
    await start_bot()
    fake_openai.respond(Script(text="Only one of us answers."))
    message = await fake_discord.user_says(world.channel, world.alice, "hello", mention_bot=True)
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, "Only one of us answers.")
    await asyncio.sleep(0.5)

    assert texts_in(fake_discord, thread_id) == ["Only one of us answers."]
    assert texts_in(fake_discord, world.channel) == []
    assert len(fake_openai.requests) == 1
    assert [c for c in fake_discord.channels if c == thread_id] == [thread_id]
    assert threads_opened(fake_discord) == 2  # one of them was refused with 160004
    turns = await first.services.store.newest_turns(thread_id, limit=10)
    assert [(t.role, t.content) for t in reversed(turns)] == [
        ("user", "hello"), ("assistant", "Only one of us answers."),
    ]  # fmt: skip


async def test_a_mention_while_the_database_is_locked_is_answered_once_it_is_free(
    fake_discord, fake_openai, world, start_bot, tmp_path, caplog
):
    import logging
    import sqlite3

    caplog.set_level(logging.WARNING)
    bot = await start_bot()
    await bot.services.store.db.execute("PRAGMA busy_timeout = 50")  # the test's stand-in for 10 s
    bot.core.replies.retry_delays = (0.1,) * 20
    fake_openai.respond(Script(text="Saved and answered."))
    locker = sqlite3.connect(tmp_path / "bot.sqlite3", isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # a backup or VACUUM holding the database
        message = await fake_discord.user_says(
            world.channel, world.alice, "hello?", mention_bot=True
        )
        await fake_discord.wait_for(lambda: caplog.text.count("retrying in") >= 2)
        locker.execute("COMMIT")
    finally:
        locker.close()
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, "Saved and answered.")
    await asyncio.sleep(0.3)

    assert texts_in(fake_discord, thread_id) == ["Saved and answered."]
    assert texts_in(fake_discord, world.channel) == []  # no "send it again" notice
    assert len(fake_openai.requests) == 1
    turns = await bot.services.store.newest_turns(thread_id, limit=10)
    assert [(t.role, t.content) for t in reversed(turns)] == [
        ("user", "hello?"), ("assistant", "Saved and answered."),
    ]  # fmt: skip


async def test_redis_down_during_identify_falls_back_to_local_spacing(
    fake_discord, fake_openai, world, start_bot, caplog
):
    import logging
    import socket

    caplog.set_level(logging.WARNING)
    with socket.socket() as closed:  # a port nobody listens on: Redis refuses
        closed.bind(("127.0.0.1", 0))
        redis_url = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
    await start_bot(REDIS_URL=redis_url, SHARD_COUNT="1")  # IDENTIFY goes through the gate
    fake_openai.respond(Script(text="Still answering."))
    message = await fake_discord.user_says(world.channel, world.alice, "hi", mention_bot=True)
    await reply_done(fake_discord, int(message["id"]), "Still answering.")

    warned = [r for r in caplog.records if "spacing IDENTIFYs in this process only" in r.message]
    assert len(warned) == 1
