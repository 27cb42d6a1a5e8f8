"""End to end: nobody takes a place over. A place /chat reached before the bot joined stays
unheard; /chat in someone else's thread doesn't adopt it; a server the bot can't see yet is
"unknown"; a person spamming mentions opens no more threads than the limits admit, and is told
once."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.texts import EN
from tests.e2e.test_chat import ask, reply_done, streaming, texts_in
from tests.e2e.test_commands import private_answer
from tests.e2e.test_user_install import answered, answers
from tests.fakes.openai_server import Script


async def test_a_place_chat_reached_stays_unheard_after_the_bot_joins(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    fake_openai.respond(Script(text="Hello from outside."))
    elsewhere = fake_discord.add_guild("Elsewhere", has_bot=False)
    channel = fake_discord.add_channel(elsewhere, "general")
    carol = fake_discord.add_member(elsewhere, "carol")
    token = await fake_discord.invoke(channel, carol, "chat", prompt="hi from a server")
    await fake_discord.wait_for(lambda: answered(fake_discord, token))

    before = len(fake_discord.bot_messages(channel))  # the /chat and its answer
    await fake_discord.bot_joins(elsewhere)
    await fake_discord.wait_for(lambda: bot.get_guild(elsewhere.id) is not None)
    await fake_discord.user_says(channel, carol, "now everyone talks here")
    await fake_discord.user_says(channel, world.alice, "and here")
    synced = await ask(fake_discord, world, "after them")  # handled after both
    await reply_done(fake_discord, synced, fake_openai.default.text)

    assert len(fake_discord.bot_messages(channel)) == before  # nothing answered there
    assert [int(t["id"]) for t in fake_discord.threads()] == [synced]
    assert len(fake_openai.requests) == 2
    stored = await bot.services.store.newest_turns(channel, limit=10)
    assert [t.content for t in reversed(stored)] == ["hi from a server", "Hello from outside."]
    conversation = await bot.core.conversations.get(channel)
    assert conversation is not None and conversation.via_interaction
    assert bot.core.conversations.known(channel) is False

    # /chat there now is an ordinary /chat in a channel: a thread of its own.
    token = await fake_discord.invoke(channel, carol, "chat", prompt="a thread now")
    echo = await fake_discord.wait_for(lambda: fake_discord.bot_messages(channel)[before:])
    echo = echo[0]
    await reply_done(fake_discord, int(echo["id"]), fake_openai.default.text)
    assert answers(fake_discord, token) == []


async def test_chat_in_someone_elses_thread_answers_on_its_own_and_adopts_nothing(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    model_thread = await ask(fake_discord, world, "a thread to copy")
    await reply_done(fake_discord, model_thread, fake_openai.default.text)
    thread_id = 8282828282828282
    thread = {**fake_discord.channels[model_thread], "id": str(thread_id),
              "owner_id": str(world.alice.id)}  # fmt: skip
    fake_discord.channels[thread_id] = thread
    await fake_discord.dispatch("THREAD_CREATE", thread)

    await fake_discord.invoke(thread_id, world.bob, "chat", prompt="one-off?")
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=2)
    echo, answer = fake_discord.bot_messages(thread_id)
    assert echo["content"] == "**bob:** one-off?"
    assert int(answer["message_reference"]["message_id"]) == int(echo["id"])
    assert bot.core.conversations.known(thread_id) is False  # not adopted
    assert await bot.services.store.get_conversation(thread_id) is None

    await fake_discord.user_says(thread_id, world.bob, "no mention: not taken over")
    reset = await fake_discord.invoke(thread_id, world.bob, "reset")
    assert await private_answer(fake_discord, reset) == EN.not_a_conversation
    synced = await ask(fake_discord, world, "after bob")
    await reply_done(fake_discord, synced, fake_openai.default.text)
    assert len(fake_discord.bot_messages(thread_id)) == 2 and len(fake_openai.requests) == 3

    # The thread's owner may: her /chat makes it a conversation.
    await fake_discord.invoke(thread_id, world.alice, "chat", prompt="mine now")
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=4)
    assert bot.core.conversations.known(thread_id) is True
    assert (await bot.services.store.get_conversation(thread_id)).owner_id == world.alice.id


async def test_chat_in_a_server_the_bot_cant_see_yet_says_try_again(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    await fake_discord.guild_unavailable(world.guild)
    await fake_discord.wait_for(lambda: bot.get_guild(world.guild.id).unavailable)
    token = await fake_discord.invoke(world.channel, world.alice, "chat", prompt="hello?")
    assert await private_answer(fake_discord, token) == EN.guild_unknown
    assert fake_discord.threads() == [] and fake_discord.bot_messages(world.channel) == []
    assert await bot.services.store.get_conversation(world.channel) is None
    assert fake_openai.requests == []


@pytest.mark.parametrize("spacing", [0.1, 0.0], ids=["in three seconds", "all at once"])
async def test_thirty_mentions_open_what_the_limits_admit(
    fake_discord, fake_openai, world, start_bot, spacing
):
    """All at once, every mention passes the limiter's peek before any reply charges it: the
    process's own count of openings holds the line."""
    bot = await start_bot(USER_RPM="5")
    for number in range(30):
        await fake_discord.user_says(world.channel, world.bob, f"spam {number}", mention_bot=True)
        await asyncio.sleep(spacing)

    def five_answered() -> bool:  # not all() alone: that holds before any thread exists
        threads = fake_discord.threads()
        return len(threads) >= 5 and all(
            texts_in(fake_discord, int(t["id"])) == [fake_openai.default.text]
            and not streaming(fake_discord.bot_messages(int(t["id"]))[0])
            for t in threads
        )

    await fake_discord.wait_for(five_answered)
    await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    threads = fake_discord.threads()
    assert len(threads) == 5  # USER_RPM: a sixth would wait about 12 s
    assert len(fake_openai.requests) == 5  # every thread opened is answered
    (notice,) = fake_discord.bot_messages(world.channel)  # told once, not 25 times
    assert "faster than I'm allowed to answer" in notice["content"]
    stored = await bot.services.store.conversation_ids(100)
    assert sorted(stored) == sorted(int(t["id"]) for t in threads)  # nothing else started


async def test_the_persona_form_is_its_openers_and_expires(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot(SYSTEM_PROMPT="the default")
    thread_id = await ask(fake_discord, world, "hi")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    token = await fake_discord.invoke(thread_id, world.alice, "persona", "set")
    (form,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert form["type"] == 9
    stolen = await fake_discord.submit_modal(token, world.bob, {"persona_text": "bob's own"})
    assert await private_answer(fake_discord, stolen) == EN.not_your_form
    assert (await bot.services.store.get_conversation(thread_id)).persona is None

    (modal,) = [m for m in bot._connection._view_store._modals.values()]
    assert modal.timeout == 600  # a dismissed form is forgotten, not kept for ever
    await modal.on_timeout()
    late = await fake_discord.submit_modal(token, world.alice, {"persona_text": "too late"})
    assert await private_answer(fake_discord, late) == EN.not_your_form
    assert (await bot.services.store.get_conversation(thread_id)).persona is None


async def test_dms_and_group_dms_honour_blocked_roles_held_in_a_shared_server(
    fake_discord, fake_openai, world, start_bot
):
    muted = fake_discord.add_role(world.guild, "muted", world.bob)
    await start_bot(BLOCKED_ROLES=str(muted))
    bobs_dm = fake_discord.add_dm(world.bob)
    await fake_discord.user_says(bobs_dm, world.bob, "let me in anyway")
    (refused,) = await fake_discord.wait_for(lambda: fake_discord.bot_messages(bobs_dm))
    assert refused["content"] == EN.refused("blocked")
    group = fake_discord.add_group_dm(world.bob, world.alice)
    token = await fake_discord.invoke(group, world.bob, "chat", prompt="and here?")
    assert await private_answer(fake_discord, token) == EN.refused("blocked")
    alices_dm = fake_discord.add_dm(world.alice)
    await fake_discord.user_says(alices_dm, world.alice, "hello")
    await reply_done(fake_discord, alices_dm, fake_openai.default.text)
    assert len(fake_openai.requests) == 1  # alice's alone
    lookups = [r.path for r in fake_discord.requests if "/members/" in r.path]
    assert lookups.count(f"/guilds/{world.guild.id}/members/{world.bob.id}") == 1  # cached


async def test_with_allowed_roles_dms_are_for_allowed_members_only(
    fake_discord, fake_openai, world, start_bot
):
    helpers = fake_discord.add_role(world.guild, "helpers", world.alice)
    await start_bot(ALLOWED_ROLES=str(helpers))
    elsewhere = fake_discord.add_guild("Elsewhere", has_bot=False)
    stranger = fake_discord.add_member(elsewhere, "stranger")
    for person in (stranger, world.bob):  # a non-member; a member without the role
        dm = fake_discord.add_dm(person)
        await fake_discord.user_says(dm, person, "hi?")
        (refused,) = await fake_discord.wait_for(lambda dm=dm: fake_discord.bot_messages(dm))
        assert refused["content"] == EN.refused("members")
    alices_dm = fake_discord.add_dm(world.alice)
    await fake_discord.user_says(alices_dm, world.alice, "hi")
    await reply_done(fake_discord, alices_dm, fake_openai.default.text)
    assert len(fake_openai.requests) == 1


async def test_a_persona_set_where_the_bot_was_absent_listens_to_nothing_after_it_joins(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    elsewhere = fake_discord.add_guild("Elsewhere", has_bot=False)
    channel = fake_discord.add_channel(elsewhere, "general")
    carol = fake_discord.add_member(elsewhere, "carol")
    token = await fake_discord.invoke(channel, carol, "persona", "set", text="a pirate")
    assert await private_answer(fake_discord, token) == EN.persona_set("conversation")
    assert (await bot.core.conversations.get(channel)).via_interaction
    await fake_discord.bot_joins(elsewhere)
    await fake_discord.wait_for(lambda: bot.get_guild(elsewhere.id) is not None)
    await fake_discord.user_says(channel, carol, "arr?")
    synced = await ask(fake_discord, world, "after carol")
    await reply_done(fake_discord, synced, fake_openai.default.text)
    assert fake_discord.bot_messages(channel) == [] and len(fake_openai.requests) == 1
