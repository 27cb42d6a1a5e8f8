"""End to end under load: many people at once stay inside Discord's global limit, and Discord's
transient failures on the way to a first answer are retried, not dropped."""

from __future__ import annotations

import asyncio

from tests.e2e.test_chat import reply_done, texts_in
from tests.fakes.openai_server import Script


async def test_a_burst_of_mentions_is_answered_every_one_exactly(
    fake_discord, fake_openai, world, start_bot
):
    other = fake_discord.add_guild("Other")
    channels = [fake_discord.add_channel(world.guild, f"c{i}") for i in range(10)]
    channels += [fake_discord.add_channel(other, f"d{i}") for i in range(10)]
    people = [fake_discord.add_member(world.guild, f"p{i}") for i in range(5)]
    # The fakes share the bot's event loop, so requests reach the fake late and bunched; the
    # budget counts each one until its answer, which the fake sends after counting it, so not
    # even that can put more than the budget into one of the fake's seconds.
    await start_bot(GUILD_RPM="0", GUILD_TPM="0", USER_RPM="0")
    fake_openai.default = Script(text="An answer for everyone, streamed.", chunk_size=6, delay=0.01)

    mentions = await asyncio.gather(*(
        fake_discord.user_says(channels[i % 20], people[i % 5], f"question {i}", mention_bot=True)
        for i in range(100)
    ))  # fmt: skip
    for mention in mentions:
        await reply_done(fake_discord, int(mention["id"]), fake_openai.default.text, count=1)
    assert all(r.status < 400 for r in fake_discord.requests)
    assert fake_discord.global_429s == 0 and fake_discord.peak_requests() <= 45


async def test_429s_and_5xx_on_the_way_to_the_first_answer_are_retried(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    fake_discord.fail("POST", r"/threads$", 500, times=1)
    fake_discord.fail("POST", r"^/channels/\d+/messages$", 429, times=1, retry_after=0.2)
    fake_discord.fail("POST", r"^/channels/\d+/messages$", 502, times=1)
    message = await fake_discord.user_says(world.channel, world.alice, "hi", mention_bot=True)
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    assert texts_in(fake_discord, thread_id) == [fake_openai.default.text]
    assert fake_discord.bot_messages(world.channel) == []  # no failure notice was needed
