"""End to end through both fakes: mention → thread → streamed reply → follow-ups, restarts."""

from __future__ import annotations

import asyncio

from bot.core.store import TurnStatus
from bot.core.tokens import TokenCounter
from tests.fakes.openai_server import Script


def streaming(message) -> bool:
    """A reply still being written: it has the Stop button (a finished one may have others)."""
    buttons = [c for row in message["components"] for c in row["components"]]
    return any(b.get("custom_id", "").startswith("stop:") for b in buttons)


def texts_in(fake_discord, channel_id):
    return [m["content"] for m in fake_discord.bot_messages(channel_id)]


async def ask(fake_discord, world, text, *, author=None, channel=None, mention=True):
    """Send a message and return the thread id it lands in (a new thread for a mention)."""
    message = await fake_discord.user_says(
        channel or world.channel, author or world.alice, text, mention_bot=mention
    )
    return int(message["id"]) if channel is None else channel


async def reply_done(fake_discord, thread_id, text, count=1, timeout=10.0):
    """Wait until the thread shows ``count`` finished replies, the last equal to ``text``."""
    return await fake_discord.wait_for(
        lambda: (
            len(texts_in(fake_discord, thread_id)) >= count
            and texts_in(fake_discord, thread_id)[count - 1] == text
            and not streaming(fake_discord.bot_messages(thread_id)[count - 1])
        ),
        timeout,
    )


async def test_mention_opens_thread_and_streams_reply(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    fake_openai.respond(Script(text="Paris is the capital of France.", chunk_size=4))
    thread_id = await ask(fake_discord, world, "What is the **capital** of France?")
    await reply_done(fake_discord, thread_id, "Paris is the capital of France.")

    assert fake_discord.channels[thread_id]["name"] == "What is the capital of France?"
    request = fake_openai.requests[0]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["max_tokens"] == 1024  # a non-OpenAI server gets max_tokens
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][-1] == {
        "role": "user", "content": "What is the **capital** of France?", "name": "alice"
    }  # fmt: skip


async def test_follow_ups_carry_the_whole_history_in_order(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    fake_openai.respond(
        Script(text="First answer."), Script(text="Second answer."), Script(text="Third.")
    )
    thread_id = await ask(fake_discord, world, "first question")
    await reply_done(fake_discord, thread_id, "First answer.")
    await ask(
        fake_discord, world, "second question", author=world.bob, channel=thread_id, mention=False
    )
    await reply_done(fake_discord, thread_id, "Second answer.", count=2)
    await ask(fake_discord, world, "third", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "Third.", count=3)

    assert [
        (m["role"], m["content"], m.get("name")) for m in fake_openai.requests[2]["messages"][1:]
    ] == [
        ("user", "first question", "alice"),
        ("assistant", "First answer.", None),
        ("user", "second question", "bob"),
        ("assistant", "Second answer.", None),
        ("user", "third", "alice"),
    ]


async def test_bare_mention_gets_a_prompt_and_no_model_call(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    await fake_discord.user_says(world.channel, world.alice, "", mention_bot=True)
    notice = await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    assert "Mention me with a question" in notice[0]["content"]
    assert fake_openai.requests == [] and fake_discord.threads() == []


async def test_unmentioned_messages_and_other_threads_are_ignored(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    await fake_discord.user_says(world.channel, world.alice, "just chatting")
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    fake_discord.channels[999_999] = {**fake_discord.channels[thread_id], "id": "999999"}
    await fake_discord.user_says(world.channel, world.bob, "still chatting")
    assert len(fake_openai.requests) == 1


async def test_every_send_and_edit_allows_no_mentions(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    fake_openai.respond(Script(text="@everyone look <@123> " * 30, chunk_size=20, delay=0.01))
    thread_id = await ask(fake_discord, world, "ping people")
    await fake_discord.wait_for(
        lambda: (
            fake_discord.bot_messages(thread_id)
            and not fake_discord.bot_messages(thread_id)[0]["components"]
        )
    )
    writes = [
        r
        for r in fake_discord.requests
        if r.method in ("POST", "PATCH")
        and "/messages" in r.path
        and not r.path.endswith("/threads")
    ]
    assert writes and all(r.body["allowed_mentions"]["parse"] == [] for r in writes)


async def test_long_thread_stays_within_a_small_window(fake_discord, fake_openai, world, start_bot):
    bot = await start_bot(CONTEXT_TOKENS="1200", MAX_COMPLETION_TOKENS="200")
    thread_id = await ask(fake_discord, world, "start")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    conversations = bot.core.conversations
    for i in range(300):  # 300 stored turns, as if the thread had run for weeks
        await conversations.add_user_turn(
            thread_id,
            message_id=10**6 + i,
            content=f"user turn {i} " + "words " * (i % 17),
            author="alice",
        )
        turn = await conversations.begin_reply(thread_id)
        await conversations.finish_reply(turn, f"assistant turn {i}", status=TurnStatus.COMPLETE)
    await ask(fake_discord, world, "the newest question", channel=thread_id, mention=False)
    await fake_openai.wait_for_requests(2)

    messages = fake_openai.requests[1]["messages"]
    counter = TokenCounter.for_model("gpt-4o-mini")
    assert counter.prompt(messages) <= 1200 - 200
    assert messages[0]["role"] == "system"
    assert messages[-1]["content"] == "the newest question"
    assert messages[-2]["content"] == "assistant turn 299" and messages[-3]["content"].startswith(
        "user turn 299"
    )
    assert 10 < len(messages) < 200


async def test_restart_keeps_the_conversation(fake_discord, fake_openai, world, start_bot):
    bot = await start_bot()
    fake_openai.respond(Script(text="Remembered."), Script(text="Still here."))
    thread_id = await ask(fake_discord, world, "remember the number 42")
    await reply_done(fake_discord, thread_id, "Remembered.")
    await bot.close()

    await start_bot()  # same database
    await ask(fake_discord, world, "what number?", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "Still here.", count=2)
    contents = [m["content"] for m in fake_openai.requests[1]["messages"]]
    assert contents[1:] == ["remember the number 42", "Remembered.", "what number?"]


async def test_edited_and_deleted_messages_update_the_history(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    thread_id = await ask(fake_discord, world, "first")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    second = await fake_discord.user_says(thread_id, world.alice, "typo here")
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=2)
    await fake_discord.user_edits(second, "fixed text")
    third = await fake_discord.user_says(thread_id, world.bob, "to be deleted")
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=3)
    await fake_discord.user_deletes(third)
    await fake_discord.user_says(thread_id, world.alice, "last")
    await fake_openai.wait_for_requests(4)
    contents = [m["content"] for m in fake_openai.requests[3]["messages"] if m["role"] == "user"]
    assert contents == ["first", "fixed text", "last"]


async def test_mention_in_an_existing_thread_adopts_it(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    thread_id = await ask(fake_discord, world, "open a thread")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    other = {**fake_discord.channels[thread_id], "id": "4242424242424242"}
    fake_discord.channels[4242424242424242] = other
    await fake_discord.dispatch("THREAD_CREATE", other)
    await fake_discord.user_says(4242424242424242, world.bob, "ignored without a mention")
    await fake_discord.user_says(4242424242424242, world.bob, "now with one", mention_bot=True)
    await reply_done(fake_discord, 4242424242424242, fake_openai.default.text)
    assert fake_openai.requests[-1]["messages"][1:] == [
        {"role": "user", "content": "now with one", "name": "bob"}
    ]


async def test_a_direct_message_is_a_conversation(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    fake_openai.respond(Script(text="Hello in private."), Script(text="Still private."))
    dm = fake_discord.add_dm(world.alice)
    await fake_discord.user_says(dm, world.alice, "hi there")  # no mention needed in a DM
    await reply_done(fake_discord, dm, "Hello in private.")
    await fake_discord.user_says(dm, world.alice, "and again")
    await reply_done(fake_discord, dm, "Still private.", count=2)
    assert fake_discord.threads() == []
    assert [m["content"] for m in fake_openai.requests[1]["messages"][1:]] == [
        "hi there",
        "Hello in private.",
        "and again",
    ]


async def test_mentioning_the_bots_role_works_like_mentioning_the_bot(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    message = await fake_discord.user_says(
        world.channel, world.alice, "what is 2+2?", mention_bot_role=True
    )
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    assert fake_openai.requests[0]["messages"][-1]["content"] == "what is 2+2?"


async def test_text_attachments_reach_the_model(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    long_paste = "line of a long paste\n" * 200  # what Discord turns into message.txt
    await fake_discord.user_says(
        world.channel, world.alice, "review this", mention_bot=True,
        files=[("message.txt", long_paste.encode(), "text/plain; charset=utf-8"), ("cat.png", b"\x89PNG", "image/png")],
    )  # fmt: skip
    await fake_openai.wait_for_requests(1)
    content = fake_openai.requests[0]["messages"][-1]["content"]
    assert content.startswith(
        "review this\n\n[attached file: message.txt]\n```\nline of a long paste"
    )
    assert content.endswith("[attached image: cat.png (not readable)]")  # not a real PNG


async def test_messages_not_for_the_bot_cost_no_database_query(
    fake_discord, fake_openai, world, start_bot, monkeypatch
):
    bot = await start_bot()
    thread_id = await ask(fake_discord, world, "a conversation exists")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    await fake_discord.wait_for(lambda: not bot.core.replies.busy(thread_id))  # usage recorded
    foreign = {**fake_discord.channels[thread_id], "id": "5151515151515151", "owner_id": "1"}
    fake_discord.channels[5151515151515151] = foreign
    await fake_discord.dispatch("THREAD_CREATE", foreign)
    queries: list[str] = []
    execute = bot.services.store.db.execute
    monkeypatch.setattr(
        bot.services.store.db, "execute", lambda sql, *a: queries.append(sql) or execute(sql, *a)
    )

    await fake_discord.user_says(world.channel, world.bob, "chatting in the channel")
    await fake_discord.user_says(5151515151515151, world.bob, "chatting in someone's thread")
    await fake_discord.user_says(world.channel, world.bob, "", mention_bot=True)  # a bare mention
    await fake_discord.wait_for(
        lambda: fake_discord.bot_messages(world.channel)
    )  # handled in order
    assert queries == []


async def test_a_forwarded_message_and_the_message_replied_to_are_read(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    dm = fake_discord.add_dm(world.alice)
    other = fake_discord.add_channel(world.guild, "elsewhere")
    original = await fake_discord.user_says(
        other, world.bob, "The deploy is at 5pm.\nBring snacks."
    )
    await fake_discord.user_says(dm, world.alice, "", forward=original)  # a forward has no text
    await fake_openai.wait_for_requests(1)
    assert fake_openai.requests[0]["messages"][-1]["content"] == (
        "[forwarded message]\n> The deploy is at 5pm.\n> Bring snacks."
    )

    claim = await fake_discord.user_says(world.channel, world.bob, "Python is older than Java.")
    await fake_discord.user_says(
        world.channel, world.alice, "is that true?", mention_bot=True, reply_to=claim
    )
    await fake_openai.wait_for_requests(2)
    assert fake_openai.requests[1]["messages"][-1]["content"] == (
        "[replying to bob]\n> Python is older than Java.\n\nis that true?"
    )


async def test_two_shards_answer_the_guilds_each_owns(fake_discord, fake_openai, world, start_bot):
    # Guild ids whose (id >> 22) % 2 differ (created in other milliseconds), so that each
    # shard owns one of them.
    guilds = [world.guild]
    while len({(g.id >> 22) % 2 for g in guilds}) < 2:
        await asyncio.sleep(0.001)
        guilds.append(fake_discord.add_guild(f"g{len(guilds)}"))
    shard = {g.id: (g.id >> 22) % 2 for g in guilds}
    pair = [next(g for g in guilds if shard[g.id] == s) for s in (0, 1)]
    channels = [world.channel if g is world.guild else fake_discord.add_channel(g) for g in pair]
    for guild in pair:
        if guild is not world.guild:
            fake_discord.add_member(guild, "alice")
    bot = await start_bot(SHARD_COUNT="2")
    assert sorted(fake_discord.identified) == [(0, 2), (1, 2)] and bot.shard_count == 2
    for guild, channel in zip(pair, channels, strict=True):
        author = next(m for m in guild.members.values() if m.username == "alice")
        message = await fake_discord.user_says(channel, author, "which shard?", mention_bot=True)
        await reply_done(fake_discord, int(message["id"]), fake_openai.default.text)
    assert len(fake_openai.requests) == 2  # each mention reached exactly one shard
