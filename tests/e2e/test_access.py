"""End to end: the operator's access lists, thread rules, /leave and /chat's own checks."""

from __future__ import annotations

from tests.e2e.test_chat import ask, reply_done
from tests.e2e.test_commands import MANAGE_THREADS, private_answer

SEND_MESSAGES = 1 << 11


async def notices(fake_discord, channel_id):
    return [m["content"] for m in fake_discord.bot_messages(channel_id)]


async def test_a_blocked_person_is_told_once_and_costs_no_model_call(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(BLOCKED_USERS=str(world.bob.id))
    await fake_discord.user_says(world.channel, world.bob, "hello?", mention_bot=True)
    await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    await fake_discord.user_says(world.channel, world.bob, "hello again?", mention_bot=True)
    thread_id = await ask(fake_discord, world, "alice may")  # handled after bob's second
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    assert await notices(fake_discord, world.channel) == ["Sorry, you can't use this bot."]
    assert len(fake_openai.requests) == 1
    token = await fake_discord.invoke(world.channel, world.bob, "usage")
    assert await private_answer(fake_discord, token) == "Sorry, you can't use this bot."


async def test_allowed_channels_and_categories(fake_discord, fake_openai, world, start_bot):
    category = 777_000_000_000_000_001
    elsewhere = fake_discord.add_channel(world.guild, "elsewhere")
    fake_discord.channels[elsewhere]["parent_id"] = str(category)  # in an allowed category
    await start_bot(ALLOWED_CHANNELS=str(category))
    await fake_discord.user_says(world.channel, world.alice, "here?", mention_bot=True)
    await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    assert await notices(fake_discord, world.channel) == ["I don't answer in this channel."]
    message = await fake_discord.user_says(elsewhere, world.alice, "there?", mention_bot=True)
    await reply_done(fake_discord, int(message["id"]), fake_openai.default.text)


async def test_dms_off_and_servers_not_allowed(fake_discord, fake_openai, world, start_bot):
    await start_bot(ALLOW_DMS="off", ALLOWED_GUILDS="123")
    await fake_discord.wait_for(lambda: world.guild.id in fake_discord.left_guilds)
    dm = fake_discord.add_dm(world.alice)
    await fake_discord.user_says(dm, world.alice, "hi")
    (notice,) = await fake_discord.wait_for(lambda: fake_discord.bot_messages(dm))
    assert notice["content"].startswith("I don't answer direct messages")
    assert fake_openai.requests == []


async def test_someone_elses_thread_is_answered_message_by_message(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    model_thread = await ask(fake_discord, world, "a thread to copy")
    await reply_done(fake_discord, model_thread, fake_openai.default.text)
    thread = {**fake_discord.channels[model_thread], "id": "8181818181818181",
              "owner_id": str(world.alice.id)}  # fmt: skip
    fake_discord.channels[8181818181818181] = thread
    await fake_discord.dispatch("THREAD_CREATE", thread)
    bob_asks = await fake_discord.user_says(
        8181818181818181, world.bob, "one-off?", mention_bot=True
    )
    await reply_done(fake_discord, 8181818181818181, fake_openai.default.text)
    (answer,) = fake_discord.bot_messages(8181818181818181)
    assert int(answer["message_reference"]["message_id"]) == int(bob_asks["id"])
    await fake_discord.user_says(8181818181818181, world.bob, "no mention: not taken over")
    await fake_discord.user_says(8181818181818181, world.alice, "mine now", mention_bot=True)
    await reply_done(fake_discord, 8181818181818181, fake_openai.default.text, count=2)
    assert [m["content"] for m in fake_openai.requests[2]["messages"][1:]] == ["mine now"]
    await fake_discord.user_says(8181818181818181, world.bob, "followed now")
    await reply_done(fake_discord, 8181818181818181, fake_openai.default.text, count=3)


async def test_leave_and_chat_without_send_messages(fake_discord, fake_openai, world, start_bot):
    bot = await start_bot()
    thread_id = await ask(fake_discord, world, "start")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    token = await fake_discord.invoke(thread_id, world.bob, "leave")
    assert "**Manage Threads**" in await private_answer(fake_discord, token)
    await fake_discord.invoke(thread_id, world.alice, "leave")
    await fake_discord.wait_for(lambda: bot.core.conversations.known(thread_id) is False)
    assert await bot.services.store.get_conversation(thread_id) is None

    muted = fake_discord.add_member(world.guild, "muted", permissions=MANAGE_THREADS)
    muted.denied = SEND_MESSAGES
    token = await fake_discord.invoke(world.channel, muted, "chat", prompt="let me in")
    assert "**Send Messages**" in await private_answer(fake_discord, token)
    assert len(fake_openai.requests) == 1
