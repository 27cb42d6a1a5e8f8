"""End to end: only the operator's models answer, and daily budgets in money bound the bill."""

from __future__ import annotations

import asyncio

from tests.e2e.test_chat import ask, reply_done, texts_in
from tests.e2e.test_commands import MANAGE_GUILD, private_answer
from tests.fakes.openai_server import Script

# A dollar per thousand prompt tokens and free completions: a reply's cost is its prompt.
PRICED = {"MODEL_PRICES": "gpt-4o-mini=1000/0"}


async def test_a_dm_user_cannot_choose_an_unlisted_or_a_closed_model(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(MODELS="llama3.1:8b*, gpt-4o")  # llama is open to everyone, gpt-4o is not
    dm = fake_discord.add_dm(world.alice)
    choices = await fake_discord.autocomplete(dm, world.alice, "model", "set", "name", "")
    assert [c["value"] for c in choices] == ["gpt-4o-mini", "llama3.1:8b"]  # what she may choose
    token = await fake_discord.invoke(dm, world.alice, "model", "set", name="o3-pro")
    assert "isn't one of this bot's models: `gpt-4o-mini`, `llama3.1:8b`, `gpt-4o`" in (
        await private_answer(fake_discord, token)
    )
    token = await fake_discord.invoke(dm, world.alice, "model", "set", name="gpt-4o")
    assert "`gpt-4o` can't" in await private_answer(fake_discord, token)
    fake_openai.respond(Script(text="Default."), Script(text="Open one."))
    await fake_discord.user_says(dm, world.alice, "hi")
    await reply_done(fake_discord, dm, "Default.")
    assert fake_openai.requests[-1]["model"] == "gpt-4o-mini"  # the refusals stored nothing

    token = await fake_discord.invoke(dm, world.alice, "model", "set", name="llama3.1:8b")
    assert "Model set to `llama3.1:8b`" in await private_answer(fake_discord, token)
    await fake_discord.user_says(dm, world.alice, "again")
    await reply_done(fake_discord, dm, "Open one.", count=2)
    assert fake_openai.requests[-1]["model"] == "llama3.1:8b"


async def test_with_models_unset_nobody_chooses_another_model(
    fake_discord, fake_openai, world, start_bot
):
    admin = fake_discord.add_member(world.guild, "admin", permissions=MANAGE_GUILD)
    await start_bot()
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    for who, where in ((world.alice, thread_id), (admin, world.channel)):
        token = await fake_discord.invoke(where, who, "model", "set", name="gpt-4o")
        assert "isn't one of this bot's models: `gpt-4o-mini`." in (
            await private_answer(fake_discord, token)
        )


async def test_a_starter_chooses_only_open_models_and_a_closed_one_needs_manage_server(
    fake_discord, fake_openai, world, start_bot
):
    admin = fake_discord.add_member(world.guild, "admin", permissions=MANAGE_GUILD)
    await start_bot(MODELS="llama3.1:8b*, gpt-4o")
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    token = await fake_discord.invoke(thread_id, world.alice, "model", "set", name="gpt-4o")
    assert "**Manage Server**" in await private_answer(fake_discord, token)
    token = await fake_discord.invoke(
        world.channel, admin, "model", "set", name="gpt-4o", scope="server"
    )
    assert "new conversations in this server" in await private_answer(fake_discord, token)


async def test_show_and_the_reply_agree_after_the_operator_removes_a_model(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot(MODELS="llama3.1:8b*")
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    token = await fake_discord.invoke(thread_id, world.alice, "model", "set", name="llama3.1:8b")
    assert "`llama3.1:8b`" in await private_answer(fake_discord, token)
    await bot.close()

    await start_bot()  # MODELS unset now: llama may no longer answer
    token = await fake_discord.invoke(thread_id, world.alice, "model", "show")
    shown = await private_answer(fake_discord, token)
    assert "Model in effect here: `gpt-4o-mini` (the bot's default)" in shown
    assert "The choice of `llama3.1:8b` here no longer applies" in shown
    fake_openai.respond(Script(text="From the default."))
    await ask(fake_discord, world, "again", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "From the default.", count=2)
    assert fake_openai.requests[-1]["model"] == "gpt-4o-mini"


async def test_a_person_over_their_daily_budget_is_told_once_and_costs_nothing(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(USER_DAILY_BUDGET="1.00", **PRICED)
    dm = fake_discord.add_dm(world.alice)
    fake_openai.respond(Script(text="Pricey.", prompt_tokens=1_500))  # $1.50
    await fake_discord.user_says(dm, world.alice, "an expensive question")
    await reply_done(fake_discord, dm, "Pricey.")
    await fake_discord.user_says(dm, world.alice, "one more")
    notice = await fake_discord.wait_for(lambda: texts_in(fake_discord, dm)[1:])
    assert notice[0].startswith("You've reached your daily spending limit for the bot.")
    assert "It resets at midnight UTC, in " in notice[0] and " min." in notice[0]
    await fake_discord.user_says(dm, world.alice, "and another")  # no second notice
    token = await fake_discord.invoke(dm, world.alice, "usage")
    shown = await private_answer(fake_discord, token)
    assert "**Your spending today:** $1.50 of $1.00" in shown
    assert "about $1.50 (estimated)" in shown  # the stored cost, as the table has it
    await asyncio.sleep(0.3)
    assert len(texts_in(fake_discord, dm)) == 2  # the reply and one notice
    assert len(fake_openai.requests) == 1  # no model request past the budget


async def test_a_server_over_its_daily_budget_stops_everyone_there(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot(GUILD_DAILY_BUDGET="1.00", **PRICED)
    fake_openai.respond(Script(text="Pricey.", prompt_tokens=1_200))
    thread_id = await ask(fake_discord, world, "an expensive question")
    await reply_done(fake_discord, thread_id, "Pricey.")
    other = await ask(fake_discord, world, "mine now", author=world.bob)
    notice = await fake_discord.wait_for(lambda: texts_in(fake_discord, other))
    assert notice[0].startswith("This server has reached its daily spending limit for the bot.")
    token = await fake_discord.invoke(world.channel, world.bob, "usage")
    shown = await private_answer(fake_discord, token)
    assert "**Your spending today:** $0.00 (no daily limit)" in shown
    assert "**Server spending today:** $1.20 of $1.00" in shown
    assert len(fake_openai.requests) == 1
    await bot.close()

    # A restart remembers the day's spend: the stored usage seeds the budget.
    await start_bot(GUILD_DAILY_BUDGET="1.00", **PRICED)
    await ask(fake_discord, world, "after the restart", channel=thread_id, mention=False)
    await fake_discord.wait_for(lambda: texts_in(fake_discord, thread_id)[1:])
    assert texts_in(fake_discord, thread_id)[1].startswith("This server has reached")
    assert len(fake_openai.requests) == 1


async def test_an_unpriced_model_is_refused_while_a_budget_is_set(
    fake_discord, fake_openai, world, start_bot, caplog
):
    caplog.set_level("INFO", logger="bot.app.wiring")
    await start_bot(USER_DAILY_BUDGET="5")
    assert "no price in MODEL_PRICES for gpt-4o-mini: refused while a budget is set" in caplog.text
    dm = fake_discord.add_dm(world.alice)
    await fake_discord.user_says(dm, world.alice, "hi")
    notice = await fake_discord.wait_for(lambda: texts_in(fake_discord, dm))
    assert notice[0].startswith("I can't use `gpt-4o-mini`: spending is capped")
    assert fake_openai.requests == []


async def test_a_persons_spend_in_a_server_follows_them_to_their_dms_across_a_restart(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot(USER_DAILY_BUDGET="1.00", **PRICED)
    fake_openai.respond(Script(text="Pricey.", prompt_tokens=1_500))
    thread_id = await ask(fake_discord, world, "an expensive question")
    await reply_done(fake_discord, thread_id, "Pricey.")
    await bot.close()

    await start_bot(USER_DAILY_BUDGET="1.00", **PRICED)  # no Redis: the stored usage seeds it
    dm = fake_discord.add_dm(world.alice)
    await fake_discord.user_says(dm, world.alice, "in private now")
    notice = await fake_discord.wait_for(lambda: texts_in(fake_discord, dm))
    assert notice[0].startswith("You've reached your daily spending limit")
    assert len(fake_openai.requests) == 1
