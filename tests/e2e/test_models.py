"""End to end: /model chooses the model per conversation, channel or server."""

from __future__ import annotations

from tests.e2e.test_chat import ask, reply_done
from tests.e2e.test_commands import MANAGE_GUILD, private_answer
from tests.fakes.openai_server import Script


async def test_model_autocomplete_set_show_and_the_next_request(
    fake_discord, fake_openai, world, start_bot
):
    fake_openai.models = ["gpt-4o-mini", "llama3.1:8b", "qwen3:8b"]
    await start_bot(MODELS="llama3.1:8b*, qwen3:8b")  # llama: open to everyone
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)

    choices = await fake_discord.autocomplete(thread_id, world.alice, "model", "set", "name", "LLA")
    assert [c["value"] for c in choices] == ["llama3.1:8b"]

    token = await fake_discord.invoke(thread_id, world.bob, "model", "set", name="llama3.1:8b")
    assert "**Manage Threads**" in await private_answer(fake_discord, token)  # not his
    token = await fake_discord.invoke(thread_id, world.alice, "model", "set", name="llama3.1:8b")
    assert "`llama3.1:8b`" in await private_answer(fake_discord, token)
    token = await fake_discord.invoke(thread_id, world.alice, "model", "show")
    shown = await private_answer(fake_discord, token)
    assert "`llama3.1:8b` (chosen for this conversation)" in shown and "8,192-token" in shown

    fake_openai.respond(Script(text="From llama."))
    await ask(fake_discord, world, "again", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "From llama.", count=2)
    assert fake_openai.requests[-1]["model"] == "llama3.1:8b"
    assert fake_openai.requests[0]["model"] == "gpt-4o-mini"


async def test_a_server_default_model_and_the_operators_list(
    fake_discord, fake_openai, world, start_bot
):
    admin = fake_discord.add_member(world.guild, "admin", permissions=MANAGE_GUILD)
    await start_bot(MODELS="gpt-4o-mini, llama3.1:8b")
    token = await fake_discord.invoke(
        world.channel, admin, "model", "set", name="qwen3:8b", scope="server"
    )
    assert "isn't one of this bot's models" in await private_answer(fake_discord, token)
    token = await fake_discord.invoke(
        world.channel, admin, "model", "set", name="llama3.1:8b", scope="server"
    )
    assert "new conversations in this server" in await private_answer(fake_discord, token)
    # No GET /models on this server: autocomplete offers the operator's list.
    choices = await fake_discord.autocomplete(world.channel, admin, "model", "set", "name", "")
    assert [c["value"] for c in choices] == ["gpt-4o-mini", "llama3.1:8b"]

    thread_id = await ask(fake_discord, world, "hi")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    assert fake_openai.requests[-1]["model"] == "llama3.1:8b"
