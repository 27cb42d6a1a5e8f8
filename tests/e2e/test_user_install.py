"""End to end: the app installed to a person's account, used where the bot is not a member (a
DM with someone else, a group DM): /chat answers through the interaction's webhook."""

from __future__ import annotations

import asyncio

from bot.core.refusal import Refusal
from bot.core.render import CURSOR
from bot.core.texts import EN
from cogs.chat.interaction import END_ROOM
from tests.e2e.test_chat import streaming
from tests.e2e.test_commands import private_answer
from tests.fakes.openai_server import Script

EVERYWHERE = ([0, 1], [0, 1, 2])  # integration_types (server, user), contexts (server, DMs)


def answers(fake_discord, token):
    """The follow-ups the bot sent for the interaction ``token``, oldest first."""
    channel = fake_discord.interaction_channels[token]
    return [
        m for m in fake_discord.bot_messages(channel)
        if m.get("interaction_token") == token and not m["interaction_original"]
    ]  # fmt: skip


def answered(fake_discord, token, parts=1):
    """The reply to ``token`` has ``parts`` follow-ups, all finished (no cursor, no Stop)."""
    shown = answers(fake_discord, token)
    return len(shown) >= parts and not any(
        streaming(m) or m["content"].endswith(CURSOR) for m in shown
    )


def webhook_calls(fake_discord, token):
    """The requests the bot made through the interaction's webhook."""
    webhook = f"/webhooks/{fake_discord.app_id}/{token}"
    return [r for r in fake_discord.requests if r.path.startswith(webhook)]


def untouched(fake_discord, channel):
    """The bot never called the channel itself (it is not in it)."""
    return not [r for r in fake_discord.requests if r.path.startswith(f"/channels/{channel}")]


async def test_synced_commands_declare_their_installs_and_contexts(fake_discord, start_bot):
    await start_bot()
    (put,) = [r for r in fake_discord.requests if r.method == "PUT"]
    declared = {c["name"]: (c["integration_types"], c["contexts"]) for c in put.body}
    assert declared == {
        "chat": EVERYWHERE, "reset": EVERYWHERE, "forget": EVERYWHERE, "usage": EVERYWHERE,
        "persona": EVERYWHERE, "model": EVERYWHERE, "tools": EVERYWHERE,
        "voice": EVERYWHERE, "Ask about this": EVERYWHERE,
        "leave": ([0], [0, 1]),  # it stops the bot listening: nothing to stop where it can't
    }  # fmt: skip


async def test_chat_in_a_group_dm_streams_into_the_interaction_and_continues_there(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    first = " ".join(f"word{i}" for i in range(120))
    fake_openai.respond(
        Script(text=first, chunk_size=12, delay=0.05),  # about 3.5 s of streaming
        Script(text="Yes, I remember."),
    )
    group = fake_discord.add_group_dm(world.alice, world.bob)
    token = await fake_discord.invoke(group, world.alice, "chat", prompt="Tell me a story")
    await fake_discord.wait_for(lambda: answered(fake_discord, token), timeout=15)

    (echo,) = [r for r in fake_discord.responses_to(token) if r.get("type") == 4]
    assert echo["data"]["content"] == "**alice:** Tell me a story"
    (reply,) = answers(fake_discord, token)
    assert reply["content"] == first and reply["components"] == []
    edits = [r.body["content"] for r in webhook_calls(fake_discord, token) if r.method == "PATCH"]
    assert len(edits) >= 3 and edits[-1] == first  # edited as the tokens arrived
    assert any(edit.endswith(CURSOR) for edit in edits[:-1])
    sent = [r.body for r in webhook_calls(fake_discord, token) if r.method in ("POST", "PATCH")]
    assert sent and all(body["allowed_mentions"]["parse"] == [] for body in sent)
    assert untouched(fake_discord, group)

    token = await fake_discord.invoke(group, world.bob, "chat", prompt="Do you remember it?")
    await fake_discord.wait_for(lambda: answered(fake_discord, token))
    assert [m["content"] for m in answers(fake_discord, token)] == ["Yes, I remember."]
    assert [
        (m["role"], m["content"], m.get("name")) for m in fake_openai.requests[1]["messages"][1:]
    ] == [
        ("user", "Tell me a story", "alice"),
        ("assistant", first, None),
        ("user", "Do you remember it?", "bob"),
    ]


async def test_chat_in_a_dm_with_someone_else_answers_through_the_interaction(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    fake_openai.respond(Script(text="Between the two of you."))
    dm = fake_discord.add_private_dm(world.alice, world.bob)
    token = await fake_discord.invoke(dm, world.alice, "chat", prompt="psst")
    await fake_discord.wait_for(lambda: answered(fake_discord, token))
    assert [m["content"] for m in answers(fake_discord, token)] == ["Between the two of you."]
    assert untouched(fake_discord, dm) and fake_discord.threads() == []
    conversation = await bot.core.conversations.get(dm)
    assert conversation is not None and conversation.guild_id is None  # the person's own


async def test_the_stop_button_works_in_a_group_dm(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    gate = asyncio.Event()
    fake_openai.respond(Script(text="Half of it and the rest", chunk_size=5, gate=gate))
    group = fake_discord.add_group_dm(world.alice, world.bob)
    token = await fake_discord.invoke(group, world.alice, "chat", prompt="go on and on")
    (reply,) = await fake_discord.wait_for(lambda: answers(fake_discord, token))
    await fake_discord.wait_for(lambda: streaming(reply))
    await fake_discord.click(reply, world.alice)
    await fake_discord.wait_for(lambda: answered(fake_discord, token))
    gate.set()
    assert reply["content"] == f"Half \n\n{EN.stopped}"


async def test_a_reply_that_would_outlive_the_token_ends_while_it_still_works(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    gate = asyncio.Event()
    fake_openai.respond(Script(text="Slowly thinking and more", chunk_size=8, gate=gate))
    group = fake_discord.add_group_dm(world.alice, world.bob)
    token = await fake_discord.invoke(  # 2 s before the reply must end to be shown
        group, world.alice, "chat", prompt="take your time", seconds_ago=15 * 60 - END_ROOM - 2
    )
    await fake_discord.wait_for(lambda: answered(fake_discord, token), timeout=10)
    gate.set()
    (reply,) = answers(fake_discord, token)
    assert reply["content"] == f"Slowly t\n\n{EN.out_of_time}"
    assert all(r.status < 400 for r in webhook_calls(fake_discord, token))


async def test_a_long_reply_keeps_to_five_follow_ups(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    text = " ".join(f"word{i}" for i in range(1500))  # 7 messages' worth
    fake_openai.respond(Script(text=text, chunk_size=400, delay=0.01))
    group = fake_discord.add_group_dm(world.alice, world.bob)
    token = await fake_discord.invoke(group, world.alice, "chat", prompt="write a lot")
    await fake_discord.wait_for(lambda: answered(fake_discord, token, parts=5), timeout=20)

    shown = [m["content"] for m in answers(fake_discord, token)]
    assert len(shown) == 5 and shown[-1].endswith(EN.cut_at_message_limit)
    assert text.startswith("".join(shown).removesuffix(f"\n\n{EN.cut_at_message_limit}"))
    assert all(r.status < 400 for r in webhook_calls(fake_discord, token))  # none refused


async def test_commands_in_a_group_dm_act_on_its_conversation_for_its_starter(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    group = fake_discord.add_group_dm(world.alice, world.bob)
    token = await fake_discord.invoke(group, world.alice, "chat", prompt="hello")
    await fake_discord.wait_for(lambda: answered(fake_discord, token))

    refused = await fake_discord.invoke(group, world.bob, "persona", "set", text="a pirate")
    assert "started this conversation" in await private_answer(fake_discord, refused)
    server = await fake_discord.invoke(
        group, world.alice, "persona", "set", text="x", scope="server"
    )
    assert await private_answer(fake_discord, server) == EN.server_only
    done = await fake_discord.invoke(group, world.alice, "persona", "set", text="a pirate")
    assert await private_answer(fake_discord, done) == EN.persona_set("conversation")
    reset = await fake_discord.invoke(group, world.alice, "reset")
    await fake_discord.wait_for(lambda: fake_discord.responses_to(reset))

    token = await fake_discord.invoke(group, world.bob, "chat", prompt="who are you?")
    await fake_discord.wait_for(lambda: answered(fake_discord, token))
    assert [(m["role"], m["content"]) for m in fake_openai.requests[1]["messages"]] == [
        ("system", "a pirate"), ("user", "who are you?"),
    ]  # fmt: skip
    assert untouched(fake_discord, group)


async def test_chat_in_a_server_without_the_bot_answers_through_the_interaction(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    fake_openai.respond(Script(text="Hello from outside."))
    elsewhere = fake_discord.add_guild("Elsewhere", has_bot=False)
    channel = fake_discord.add_channel(elsewhere, "general")
    carol = fake_discord.add_member(elsewhere, "carol")
    token = await fake_discord.invoke(channel, carol, "chat", prompt="hi from a server")
    await fake_discord.wait_for(lambda: answered(fake_discord, token))
    assert [m["content"] for m in answers(fake_discord, token)] == ["Hello from outside."]
    assert untouched(fake_discord, channel) and fake_discord.threads() == []
    conversation = await bot.core.conversations.get(channel)
    assert conversation is not None and conversation.guild_id is None  # carol's own, no server's


async def test_allow_dms_off_refuses_chat_in_a_group_dm(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(ALLOW_DMS="off")
    group = fake_discord.add_group_dm(world.alice, world.bob)
    token = await fake_discord.invoke(group, world.alice, "chat", prompt="hello?")
    assert await private_answer(fake_discord, token) == EN.refused(Refusal.DMS)
    assert fake_openai.requests == []
