"""End to end: what the bot keeps, and how it forgets."""

from __future__ import annotations

from tests.fakes.openai_server import Script
from tests.test_e2e_chat import ask, reply_done


def answered_with(fake_discord, start: str) -> bool:
    """A button's interaction answered by editing its message to a text beginning so."""
    return any(
        r.get("type") == 7 and r["data"]["content"].startswith(start)
        for r in fake_discord.interaction_responses
    )


def database_bytes(tmp_path) -> bytes:
    files = [tmp_path / "bot.sqlite3", tmp_path / "bot.sqlite3-wal"]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_forget_deletes_a_persons_words_from_the_database_files(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    await start_bot()
    thread_id = await ask(fake_discord, world, "my locker code is ZEBRA-4471")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    await fake_discord.user_says(thread_id, world.bob, "bob stays")
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=2)
    assert b"ZEBRA-4471" in database_bytes(tmp_path)

    await fake_discord.invoke(thread_id, world.alice, "forget")
    (asked,) = await fake_discord.wait_for(lambda: fake_discord.ephemeral[thread_id])
    assert "can't be undone" in asked["content"]
    await fake_discord.click(
        asked, world.alice, asked["components"][0]["components"][0]["custom_id"]
    )
    await fake_discord.wait_for(lambda: answered_with(fake_discord, "Done: I deleted 1 of your"))
    assert b"ZEBRA-4471" not in database_bytes(tmp_path)  # overwritten, not only unlinked

    fake_openai.respond(Script(text="Fresh."))
    await fake_discord.user_says(thread_id, world.bob, "what did alice say?")
    await reply_done(fake_discord, thread_id, "Fresh.", count=3)
    sent = [m["content"] for m in fake_openai.requests[-1]["messages"][1:]]
    assert "bob stays" in sent and not any("ZEBRA" in m for m in sent)


async def test_a_deleted_thread_and_a_server_that_removes_the_bot_leave_nothing(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    first = await ask(fake_discord, world, "one")
    second = await ask(fake_discord, world, "two")
    for thread_id in (first, second):
        await reply_done(fake_discord, thread_id, fake_openai.default.text)
    thread = fake_discord.channels[first]
    await fake_discord.dispatch(
        "THREAD_DELETE", {k: thread[k] for k in ("id", "guild_id", "parent_id", "type")}
    )
    await fake_discord.wait_for(lambda: bot.conversations.known(first) is False)
    assert await bot.store.get_conversation(first) is None
    assert await bot.store.get_conversation(second) is not None

    await fake_discord.dispatch("GUILD_DELETE", {"id": str(world.guild.id)})  # removed
    await fake_discord.wait_for(lambda: bot.conversations.known(second) is False)
    assert await bot.store.get_conversation(second) is None
