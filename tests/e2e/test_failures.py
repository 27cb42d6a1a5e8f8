"""End to end: every failure turns into a short, specific message, and the bot keeps serving."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.store import TurnStatus
from bot.services.store import SQLiteStore
from tests.e2e.test_chat import ask, reply_done, texts_in
from tests.e2e.test_streaming import finished
from tests.fakes.discord_payloads import message_payload, snowflake
from tests.fakes.openai_server import Script

BUSY_RETRY = {"retry-after-ms": "50"}


async def fast_bot(start_bot, **env):
    bot = await start_bot(**env)
    bot.services.llm.backoff = 0.01  # keep retry backoff short in tests
    return bot


async def test_rate_limited_then_answered(fake_discord, fake_openai, world, start_bot):
    await fast_bot(start_bot)
    fake_openai.respond(
        Script(status=429, error_code="rate_limit_exceeded", headers={"retry-after-ms": "300"}),
        Script(text="Answer after a retry."),
    )
    thread_id = await ask(fake_discord, world, "busy?")
    await fake_discord.wait_for(lambda: "retrying" in "".join(texts_in(fake_discord, thread_id)))
    await reply_done(fake_discord, thread_id, "Answer after a retry.")
    assert len(fake_openai.requests) == 2


async def test_rate_limited_gives_up_with_a_clear_message(
    fake_discord, fake_openai, world, start_bot
):
    await fast_bot(start_bot)
    fake_openai.respond(
        *[Script(status=429, error_code="rate_limit_exceeded", headers=BUSY_RETRY)] * 3
    )
    thread_id = await ask(fake_discord, world, "busy?")
    await reply_done(
        fake_discord,
        thread_id,
        "The model service is busy right now. Please try again in a minute.",
    )
    assert len(fake_openai.requests) == 3  # bounded retries


async def test_insufficient_quota_is_not_retried(fake_discord, fake_openai, world, start_bot):
    await fast_bot(start_bot)
    fake_openai.respond(
        Script(status=429, error_code="insufficient_quota"), Script(text="Credit is back.")
    )
    thread_id = await ask(fake_discord, world, "hello")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id))
    assert "out of credit" in texts_in(fake_discord, thread_id)[0]
    assert len(fake_openai.requests) == 1
    await ask(
        fake_discord, world, "again", channel=thread_id, mention=False
    )  # served normally after
    await reply_done(fake_discord, thread_id, "Credit is back.", count=2)


async def test_context_length_exceeded_rebuilds_smaller_and_remembers(
    fake_discord, fake_openai, world, start_bot
):
    bot = await fast_bot(start_bot, CONTEXT_TOKENS="6000", MAX_COMPLETION_TOKENS="500")
    thread_id = await ask(fake_discord, world, "start " + "words " * 1500)
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    fake_openai.respond(
        Script(status=400, error_code="context_length_exceeded"), Script(text="Fits now.")
    )
    await ask(fake_discord, world, "next " + "more " * 1500, channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "Fits now.", count=2)

    _, rejected, retried = fake_openai.requests
    assert len(retried["messages"]) < len(rejected["messages"])
    assert retried["messages"][-1] == rejected["messages"][-1]
    assert (await bot.core.models.get(bot.core.models.default)).budget.window < 6000  # remembered


async def test_invalid_api_key_tells_admins_and_logs_once(
    fake_discord, fake_openai, world, start_bot, caplog
):
    await fast_bot(start_bot)
    fake_openai.respond(Script(status=401), Script(status=401))
    thread_id = await ask(fake_discord, world, "hello")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id))
    await ask(fake_discord, world, "again", channel=thread_id, mention=False)
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id, parts=2))
    assert all("API key was rejected" in t for t in texts_in(fake_discord, thread_id))
    assert caplog.text.count("refused the bot's account") == 1
    assert "sk-test" not in "".join(texts_in(fake_discord, thread_id)) + caplog.text


async def test_server_errors_are_retried_with_backoff(fake_discord, fake_openai, world, start_bot):
    await fast_bot(start_bot)
    fake_openai.respond(Script(status=500), Script(status=503), Script(text="Third time lucky."))
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, "Third time lucky.")
    assert len(fake_openai.requests) == 3


async def test_unreachable_service_says_unavailable(fake_discord, fake_openai, world, start_bot):
    bot = await fast_bot(start_bot)
    await fake_openai.stop()  # connection refused from now on
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(
        fake_discord,
        thread_id,
        "The model service is unavailable right now. Please try again shortly.",
    )
    assert bot.is_ready()


async def test_guild_rpm_limits_one_guild_and_not_another(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(GUILD_RPM="3", USER_RPM="0")
    other_guild = fake_discord.add_guild("Other")
    other_channel = fake_discord.add_channel(other_guild, "general")
    carol = fake_discord.add_member(other_guild, "carol")  # the bot joins the guild while running
    await fake_discord.dispatch("GUILD_CREATE", other_guild.payload())

    for i in range(5):
        await ask(fake_discord, world, f"question {i}")
    await fake_discord.wait_for(
        lambda: (
            len(fake_discord.threads()) == 3
            and all(finished(fake_discord, int(t["id"])) for t in fake_discord.threads())
            and texts_in(fake_discord, world.channel)
        )
    )
    # The two over the limit open no thread; alice is told once, next to her mention.
    (notice,) = texts_in(fake_discord, world.channel)
    assert "limit of model requests per minute" in notice and "Try again in about" in notice
    assert len(fake_openai.requests) == 3

    message = await fake_discord.user_says(
        other_channel, carol, "from the other guild", mention_bot=True
    )
    other = int(message["id"])
    await reply_done(fake_discord, other, fake_openai.default.text)
    assert len(fake_openai.requests) == 4


async def test_a_dm_user_hits_dm_rpm_while_the_servers_budget_is_untouched(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(DM_RPM="2", GUILD_RPM="1", USER_RPM="0")
    dm = fake_discord.add_dm(world.alice)
    for number in range(3):
        await fake_discord.user_says(dm, world.alice, f"private question {number}")
        await fake_discord.wait_for(lambda n=number: len(texts_in(fake_discord, dm)) > n)
    answers = texts_in(fake_discord, dm)
    assert answers[:2] == [fake_openai.default.text] * 2 and len(fake_openai.requests) == 2
    assert answers[2].startswith(
        "You've reached your limit of model requests per minute outside servers. Try again in"
    )
    thread_id = await ask(fake_discord, world, "and one in the server")  # its 1 is all there
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    assert len(fake_openai.requests) == 3


async def test_shutdown_mid_reply_stores_it_interrupted_once(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    gate = asyncio.Event()
    fake_openai.respond(Script(text="Half of the answer and then", chunk_size=12, gate=gate))
    thread_id = await ask(fake_discord, world, "long question")
    await fake_discord.wait_for(lambda: fake_discord.bot_messages(thread_id))
    await bot.close()
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id))
    assert texts_in(fake_discord, thread_id) == [
        "Half of the \n\n*(stopped: the bot is restarting)*"
    ]

    bot = await start_bot()
    turns = await bot.services.store.newest_turns(thread_id, limit=10)
    assert [(t.role, t.status) for t in turns] == [
        ("assistant", TurnStatus.INTERRUPTED),
        ("user", TurnStatus.COMPLETE),
    ]
    await ask(fake_discord, world, "continue", channel=thread_id, mention=False)
    await fake_openai.wait_for_requests(2)
    assert [m["content"] for m in fake_openai.requests[1]["messages"][1:]] == [
        "long question",
        "Half of the ",
        "continue",
    ]


STOP_ROW = [{"type": 1, "components": [{"type": 2, "custom_id": "x", "label": "Stop", "style": 2}]}]


@pytest.mark.parametrize(
    ("left_behind", "stored_text"),
    [
        ([("Half of an answer ▌", STOP_ROW)], "Half of an answer"),
        ([("Part one, finished. ", []), ("Part two ▌", STOP_ROW)], "Part one, finished. Part two"),
    ],
)
async def test_a_reply_left_half_shown_by_a_crash_is_mended_after_restart(
    fake_discord, fake_openai, world, start_bot, tmp_path, left_behind, stored_text
):
    bot = await start_bot()
    thread_id = await ask(fake_discord, world, "a question")
    await fake_discord.wait_for(lambda: finished(fake_discord, thread_id))
    await bot.close()
    # What a crash mid-reply leaves: messages ending in a cursor and a Stop button, and a turn
    # still marked streaming that knows its first message.
    left = [
        message_payload(
            message_id=snowflake(), channel_id=thread_id, guild=world.guild,
            author=fake_discord.bot_user, content=content, components=components,
        )
        for content, components in left_behind
    ]  # fmt: skip
    fake_discord.messages[thread_id].extend(left)
    store = SQLiteStore(str(tmp_path / "bot.sqlite3"))
    await store.open()
    turn = await store.add_turn(
        thread_id, role="assistant", content="", tokens=3, status=TurnStatus.STREAMING
    )
    await store.attach_message(turn.seq, int(left[0]["id"]))
    await store.close()

    bot = await start_bot()
    await fake_discord.wait_for(lambda: not left[-1]["components"])
    assert (
        left[-1]["content"]
        == left_behind[-1][0].removesuffix(" ▌") + "\n\n*(interrupted: the bot restarted)*"
    )
    (stored, *_) = await bot.services.store.newest_turns(thread_id, limit=1)
    assert (stored.content, stored.status) == (stored_text, TurnStatus.INTERRUPTED)


async def test_a_server_that_refuses_stream_options_still_answers(
    fake_discord, fake_openai, world, start_bot
):
    bot = await fast_bot(start_bot)
    fake_openai.respond(
        Script(status=400, error_message="Unrecognized request argument supplied: stream_options"),
        Script(text="Answered without usage.", send_usage=False),
    )
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, "Answered without usage.")
    assert "stream_options" not in fake_openai.requests[1] and not bot.services.llm.usage_in_stream
    await ask(fake_discord, world, "again", channel=thread_id, mention=False)
    await fake_openai.wait_for_requests(3)
    assert "stream_options" not in fake_openai.requests[2]  # remembered


async def test_an_overflow_answered_with_an_empty_stream_is_understood(
    fake_discord, fake_openai, world, start_bot
):
    """llama.cpp's server answers a streamed request that overflows its context with 200 and
    an empty body; a non-streamed probe gets the 400 that says why."""
    bot = await fast_bot(start_bot, CONTEXT_TOKENS="6000", MAX_COMPLETION_TOKENS="500")
    fake_openai.respond(
        Script(empty_stream=True),
        Script(status=400, error_code="context_length_exceeded"),  # the probe
        Script(text="Fits now."),
    )
    thread_id = await ask(fake_discord, world, "start " + "words " * 1500)
    await reply_done(fake_discord, thread_id, "Fits now.")
    streamed, probe, retried = fake_openai.requests
    assert streamed["stream"] and not probe.get("stream") and retried["stream"]
    assert probe["max_tokens"] == 1
    assert (await bot.core.models.get(bot.core.models.default)).budget.window < 6000  # learnt
