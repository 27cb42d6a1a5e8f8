"""End to end: what the bot keeps, and how it forgets."""

from __future__ import annotations

import json

from tests.e2e.test_chat import ask, reply_done
from tests.fakes.openai_server import Script


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
    await fake_discord.wait_for(lambda: bot.core.conversations.known(first) is False)
    assert await bot.services.store.get_conversation(first) is None
    assert await bot.services.store.get_conversation(second) is not None

    await fake_discord.dispatch("GUILD_DELETE", {"id": str(world.guild.id)})  # removed
    await fake_discord.wait_for(lambda: bot.core.conversations.known(second) is False)
    assert await bot.services.store.get_conversation(second) is None


PAD = " and this sentence pads the message to a realistic length." * 20  # ~240 tokens


async def forget(fake_discord, thread_id, person) -> None:
    await fake_discord.invoke(thread_id, person, "forget")
    asked = await fake_discord.wait_for(lambda: fake_discord.ephemeral[thread_id])
    button = asked[-1]["components"][0]["components"][0]["custom_id"]
    await fake_discord.click(asked[-1], person, button)
    await fake_discord.wait_for(lambda: answered_with(fake_discord, "Done: I deleted"))


async def test_forget_deletes_the_reasoning_and_the_summary_that_quote_a_person(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    bot = await start_bot(HISTORY_TOKENS="600")
    fake_openai.respond(Script(text="Stored.", reasoning="REASONING: ZEBRA-4471 is a code"))
    fake_openai.non_streamed = Script(text="SUMMARY: alice's locker code is ZEBRA-4471.")
    thread_id = await ask(fake_discord, world, f"my locker code is ZEBRA-4471{PAD}")
    await reply_done(fake_discord, thread_id, "Stored.")
    for n in range(3):  # bob talks on: the history passes the cap, alice's words are summarised
        await ask(fake_discord, world, f"bob {n}{PAD}", author=world.bob, channel=thread_id,
                  mention=False)  # fmt: skip
        await reply_done(fake_discord, thread_id, fake_openai.default.text, count=n + 2)
    await bot.core.summarizer.wait_idle()
    conversation = await bot.services.store.get_conversation(thread_id)
    assert "ZEBRA-4471" in (conversation.summary or "")
    answer = next(t for t in await bot.services.store.turns_between(thread_id, 0, 10**18)
                  if t.content == "Stored.")  # fmt: skip
    assert "ZEBRA" in (await bot.services.store.get_reasoning(answer.seq) or "")

    await forget(fake_discord, thread_id, world.alice)
    assert b"ZEBRA-4471" not in database_bytes(tmp_path)  # words, reasoning and summary
    assert await bot.services.store.get_reasoning(answer.seq) is None
    assert (await bot.services.store.get_conversation(thread_id)).summary is None
    stored = [t.content for t in await bot.services.store.turns_between(thread_id, 0, 10**18)]
    assert any(text.startswith("bob 2") for text in stored)  # bob's words stay

    fake_openai.respond(Script(text="Fresh."))
    await ask(fake_discord, world, "what was the code?", author=world.bob, channel=thread_id,
              mention=False)  # fmt: skip
    await reply_done(fake_discord, thread_id, "Fresh.", count=5)
    assert not any("ZEBRA" in json.dumps(m) for m in fake_openai.requests[-1]["messages"])


async def test_a_deleted_channel_takes_its_threads_conversations(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    other_channel = fake_discord.add_channel(world.guild, "elsewhere")
    bot = await start_bot()
    first = await ask(fake_discord, world, "secret one PELICAN-77")
    second = await ask(fake_discord, world, "secret two")
    said = await fake_discord.user_says(other_channel, world.bob, "elsewhere", mention_bot=True)
    elsewhere = int(said["id"])
    for thread_id in (first, second, elsewhere):
        await reply_done(fake_discord, thread_id, fake_openai.default.text)
    channel = fake_discord.channels[world.channel]
    await fake_discord.dispatch(
        "CHANNEL_DELETE", {k: channel[k] for k in ("id", "guild_id", "type", "name", "position")}
    )
    await fake_discord.wait_for(lambda: bot.core.conversations.known(second) is False)
    assert await bot.services.store.get_conversation(first) is None
    assert await bot.services.store.get_conversation(second) is None
    assert await bot.services.store.get_conversation(elsewhere) is not None
    await fake_discord.wait_for(lambda: b"PELICAN-77" not in database_bytes(tmp_path))


async def test_a_deleted_thread_takes_the_messages_answered_on_their_own_in_it(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    opened = await ask(fake_discord, world, "a thread to copy")
    await reply_done(fake_discord, opened, fake_openai.default.text)
    thread_id = 4242424242424242  # alice's thread, which bob may not take over
    thread = {
        **fake_discord.channels[opened],
        "id": str(thread_id),
        "owner_id": str(world.alice.id),
    }
    fake_discord.channels[thread_id] = thread
    await fake_discord.dispatch("THREAD_CREATE", thread)
    message = await fake_discord.user_says(thread_id, world.bob, "answer me", mention_bot=True)
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    own = int(message["id"])
    assert (
        await bot.services.store.get_conversation(own)
    ).parent_id == thread_id  # answered on its own
    await fake_discord.dispatch(
        "THREAD_DELETE", {k: thread[k] for k in ("id", "guild_id", "parent_id", "type")}
    )
    await fake_discord.wait_for(lambda: bot.core.conversations.known(own) is False)
    assert await bot.services.store.get_conversation(own) is None


async def test_reset_deletes_what_it_forgets(fake_discord, fake_openai, world, start_bot, tmp_path):
    bot = await start_bot()
    fake_openai.respond(Script(text="Got it.", reasoning="REASONING about OSPREY-12"))
    thread_id = await ask(fake_discord, world, "remember OSPREY-12")
    await reply_done(fake_discord, thread_id, "Got it.")
    await fake_discord.invoke(thread_id, world.alice, "reset")
    await fake_discord.wait_for(
        lambda: any(
            "deleted my copy" in r["data"].get("content", "")
            for r in fake_discord.interaction_responses
            if r.get("data")
        )
    )
    assert await bot.services.store.turns_between(thread_id, 0, 10**18) == []
    assert b"OSPREY-12" not in database_bytes(tmp_path)  # the question and the reasoning


async def test_forget_finds_words_stored_before_author_ids_by_the_persons_name(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    bot = await start_bot()
    thread_id = await ask(fake_discord, world, "bob's thread", author=world.bob)
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    for n, (name, text) in enumerate([("alice", "old IBIS-3 from alice"), ("bob", "old bob")]):
        await bot.services.store.add_turn(
            thread_id, role="user", content=text, tokens=5, message_id=900 + n, author_name=name
        )  # fmt: skip (no author id)
    await forget(fake_discord, thread_id, world.alice)
    stored = [t.content for t in await bot.services.store.turns_between(thread_id, 0, 10**18)]
    assert "old bob" in stored and not any("IBIS-3" in text for text in stored)
    assert b"IBIS-3" not in database_bytes(tmp_path)
