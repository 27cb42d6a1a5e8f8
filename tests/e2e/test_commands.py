"""End to end: slash commands through the fake Discord's interactions."""

from __future__ import annotations

import asyncio

from tests.e2e.test_chat import ask, reply_done
from tests.fakes.openai_server import Script

MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
MANAGE_THREADS = 1 << 34


async def private_answer(fake_discord, token):
    """The text of the ephemeral answer to an interaction."""
    response = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    data = response[0]["data"]
    assert data["flags"] & 64, "expected an ephemeral answer"
    return data["content"]


async def test_commands_are_synced_once_and_not_again_when_unchanged(fake_discord, start_bot):
    bot = await start_bot()
    puts = [r for r in fake_discord.requests if r.method == "PUT"]
    assert len(puts) == 1 and puts[0].path.endswith("/commands")
    assert {c["name"] for c in puts[0].body} == {
        "chat", "reset", "persona", "model", "tools", "voice", "forget", "leave", "usage",
        "Ask about this",
    }  # fmt: skip
    slash = [c for c in puts[0].body if c.get("type", 1) == 1]
    assert all(c["description"] for c in slash)  # (a message's menu command has none)
    await bot.close()
    await start_bot()
    assert len([r for r in fake_discord.requests if r.method == "PUT"]) == 1


async def test_dev_guild_sync_goes_to_that_guild(fake_discord, world, start_bot):
    await start_bot(DEV_GUILD_ID=str(world.guild.id))
    (put,) = [r for r in fake_discord.requests if r.method == "PUT"]
    assert put.path.endswith(f"/guilds/{world.guild.id}/commands")


async def test_chat_command_starts_a_thread_and_answers(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    fake_openai.respond(Script(text="Answered from /chat."))
    await fake_discord.invoke(world.channel, world.alice, "chat", prompt="Explain threads")
    thread = await fake_discord.wait_for(lambda: fake_discord.threads())
    thread_id = int(thread[0]["id"])
    assert thread[0]["name"] == "Explain threads"
    await reply_done(fake_discord, thread_id, "Answered from /chat.")
    assert fake_openai.requests[0]["messages"][-1]["content"] == "Explain threads"


async def test_reset_empties_the_next_requests_history(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    thread_id = await ask(fake_discord, world, "remember me")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    token = await fake_discord.invoke(thread_id, world.alice, "reset")
    confirmation = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert "Conversation reset by alice" in confirmation[0]["data"]["content"]
    await ask(fake_discord, world, "after the reset", channel=thread_id, mention=False)
    await fake_openai.wait_for_requests(2)
    assert [m["role"] for m in fake_openai.requests[1]["messages"]] == ["system", "user"]
    assert fake_openai.requests[1]["messages"][1]["content"] == "after the reset"


async def test_reset_outside_a_conversation_explains(fake_discord, world, start_bot):
    await start_bot()
    token = await fake_discord.invoke(world.channel, world.alice, "reset")
    assert "isn't a conversation" in await private_answer(fake_discord, token)


async def test_member_without_permission_is_refused(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    thread_id = await ask(fake_discord, world, "alice's conversation")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    token = await fake_discord.invoke(thread_id, world.bob, "reset")
    assert "**Manage Threads**" in await private_answer(fake_discord, token)
    token = await fake_discord.invoke(world.channel, world.bob, "persona", "set", text="pirate")
    assert "**Manage Channels**" in await private_answer(fake_discord, token)
    token = await fake_discord.invoke(
        world.channel, world.bob, "persona", "set", text="pirate", scope="server"
    )
    assert "**Manage Server**" in await private_answer(fake_discord, token)
    moderator = fake_discord.add_member(world.guild, "mod", permissions=MANAGE_THREADS)
    token = await fake_discord.invoke(thread_id, moderator, "reset")
    assert (
        "Conversation reset by mod"
        in (await fake_discord.wait_for(lambda: fake_discord.responses_to(token)))[0]["data"][
            "content"
        ]
    )


async def test_persona_set_changes_the_next_request_and_survives_restart(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    thread_id = await ask(fake_discord, world, "hi")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    token = await fake_discord.invoke(
        thread_id, world.alice, "persona", "set", text="You are a pirate.\nSay arr."
    )
    assert "Persona set for this conversation" in await private_answer(fake_discord, token)
    await ask(fake_discord, world, "next", channel=thread_id, mention=False)
    await fake_openai.wait_for_requests(2)
    assert fake_openai.requests[1]["messages"][0] == {
        "role": "system",
        "content": "You are a pirate.\nSay arr.",
    }
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=2)

    await bot.close()
    await start_bot()
    await ask(fake_discord, world, "after restart", channel=thread_id, mention=False)
    await fake_openai.wait_for_requests(3)
    assert fake_openai.requests[2]["messages"][0]["content"] == "You are a pirate.\nSay arr."


async def test_persona_scopes_most_specific_wins(fake_discord, fake_openai, world, start_bot):
    await start_bot(SYSTEM_PROMPT="built-in")
    admin = fake_discord.add_member(
        world.guild, "admin", permissions=MANAGE_GUILD | MANAGE_CHANNELS
    )

    async def persona_of_new_conversation(n):
        thread_id = await ask(fake_discord, world, f"q{n}")
        await reply_done(fake_discord, thread_id, fake_openai.default.text)
        return fake_openai.requests[-1]["messages"][0]["content"], thread_id

    assert (await persona_of_new_conversation(1))[0] == "built-in"
    await private_answer(
        fake_discord,
        await fake_discord.invoke(
            world.channel, admin, "persona", "set", text="server one", scope="server"
        ),
    )
    assert (await persona_of_new_conversation(2))[0] == "server one"
    await private_answer(
        fake_discord,
        await fake_discord.invoke(world.channel, admin, "persona", "set", text="channel one"),
    )
    persona, thread_id = await persona_of_new_conversation(3)
    assert persona == "channel one"
    await private_answer(
        fake_discord,
        await fake_discord.invoke(thread_id, world.alice, "persona", "set", text="mine"),
    )
    token = await fake_discord.invoke(thread_id, world.alice, "persona", "show")
    assert (
        "mine" in await private_answer(fake_discord, token)
        and "set for this conversation" in fake_discord.responses_to(token)[0]["data"]["content"]
    )
    token = await fake_discord.invoke(world.channel, world.bob, "persona", "show")
    shown = await private_answer(fake_discord, token)
    assert "channel one" in shown and "this channel's default" in shown
    await private_answer(
        fake_discord, await fake_discord.invoke(world.channel, admin, "persona", "clear")
    )
    assert (await persona_of_new_conversation(4))[0] == "server one"


async def test_persona_set_without_text_opens_a_prefilled_modal(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(SYSTEM_PROMPT="the default")
    thread_id = await ask(fake_discord, world, "hi")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    token = await fake_discord.invoke(thread_id, world.alice, "persona", "set")
    (response,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert response["type"] == 9
    field = response["data"]["components"][0]["components"][0]
    assert field["value"] == "the default" and field["style"] == 2 and field["max_length"] == 4000
    long_persona = "Line one.\n" * 200
    submit = await fake_discord.submit_modal(token, world.alice, {"persona_text": long_persona})
    assert "Persona set" in await private_answer(fake_discord, submit)
    await ask(fake_discord, world, "next", channel=thread_id, mention=False)
    await fake_openai.wait_for_requests(2)
    assert fake_openai.requests[1]["messages"][0]["content"] == long_persona.strip()


async def test_usage_reports_what_the_server_said(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    fake_openai.respond(
        Script(text="x" * 40, prompt_tokens=120, cached_tokens=30),
        Script(text="y" * 8, prompt_tokens=80),
    )
    thread_id = await ask(fake_discord, world, "one")
    await reply_done(fake_discord, thread_id, "x" * 40)
    other = await ask(fake_discord, world, "two", author=world.bob)
    await reply_done(fake_discord, other, "y" * 8)
    shown = await private_answer(
        fake_discord, await fake_discord.invoke(world.channel, world.alice, "usage")
    )
    assert (
        "**You, today:** 130 tokens (120 prompt + 10 completion, 25% of prompt tokens cached), 1 request"
        in shown
    )
    assert "**Server, today:** 212 tokens (200 prompt + 12 completion, 15% of" in shown


async def test_a_failing_command_answers_privately_and_logs(fake_discord, world, start_bot, caplog):
    bot = await start_bot()

    async def broken(**_):
        raise RuntimeError("database on fire")

    bot.services.store.usage = broken
    token = await fake_discord.invoke(world.channel, world.alice, "usage")
    assert "Something went wrong on my side" in await private_answer(fake_discord, token)
    assert "Slash command /usage failed" in caplog.text and "database on fire" in caplog.text


async def test_reset_during_a_reply_defers_then_confirms(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    gate = asyncio.Event()
    fake_openai.respond(Script(text="A slow answer", chunk_size=4, gate=gate))
    thread_id = await ask(fake_discord, world, "slow one")
    await fake_discord.wait_for(lambda: fake_discord.bot_messages(thread_id))
    token = await fake_discord.invoke(thread_id, world.alice, "reset")
    (deferred,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert deferred["type"] == 5  # answered at once, while the reply holds the conversation
    gate.set()
    followup = await fake_discord.wait_for(lambda: fake_discord.responses_to(token)[1:])
    assert "Conversation reset by alice" in followup[0]["content"]


async def test_chat_command_in_a_dm(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    fake_openai.respond(Script(text="Private answer."))
    dm = fake_discord.add_dm(world.alice)
    await fake_discord.invoke(dm, world.alice, "chat", prompt="just between us")
    await reply_done(
        fake_discord, dm, "Private answer.", count=2
    )  # the echoed prompt, then the reply
    assert fake_openai.requests[0]["messages"][-1]["content"] == "just between us"
    assert fake_discord.threads() == []
