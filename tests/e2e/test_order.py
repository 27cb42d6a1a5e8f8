"""End to end: replies under multi-user traffic stay in order, follow the queue's edits and
deletions, and tell people when Discord refuses them."""

from __future__ import annotations

import asyncio

from tests.e2e.test_chat import ask, reply_done, texts_in
from tests.fakes.openai_server import Script

SEND_MESSAGES_IN_THREADS = 1 << 38


def queued(bot, conversation_id: int) -> int:
    return bot.core.replies.queued(conversation_id)


def said(request) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request["messages"][1:]]


async def test_two_users_in_one_thread_with_a_slow_first_token(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    thinking = asyncio.Event()
    fake_openai.respond(
        Script(text="For Alice.", first_gate=thinking), Script(text="For Bob."), Script(text="3.")
    )
    alice = await fake_discord.user_says(thread_id, world.alice, "alice asks")
    await fake_openai.wait_for_requests(2)
    await fake_discord.user_says(thread_id, world.bob, "bob asks")
    await fake_discord.wait_for(lambda: queued(bot, thread_id) == 1)  # stored, waiting
    thinking.set()
    await reply_done(fake_discord, thread_id, "For Bob.", count=3)
    await ask(fake_discord, world, "and now?", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "3.", count=4)

    _, for_alice, for_bob, third = fake_openai.requests
    assert said(for_alice)[-1] == ("user", "alice asks")
    assert said(for_bob)[-3:] == [
        ("user", "alice asks"), ("assistant", "For Alice."), ("user", "bob asks"),
    ]  # fmt: skip
    assert said(third)[-5:] == [
        ("user", "alice asks"), ("assistant", "For Alice."), ("user", "bob asks"),
        ("assistant", "For Bob."), ("user", "and now?"),
    ]  # fmt: skip
    # Alice's answer came after Bob's message, so it says which message it answers.
    answer = fake_discord.bot_messages(thread_id)[1]
    assert int(answer["message_reference"]["message_id"]) == int(alice["id"])
    assert "message_reference" not in fake_discord.bot_messages(thread_id)[2]


async def test_a_queued_question_deleted_is_not_answered(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    held = asyncio.Event()
    fake_openai.respond(Script(text="First answer.", first_gate=held))
    thread_id = await ask(fake_discord, world, "first")
    await fake_openai.wait_for_requests(1)
    second = await fake_discord.user_says(thread_id, world.bob, "never mind this")
    await fake_discord.wait_for(lambda: queued(bot, thread_id) == 1)
    await fake_discord.user_deletes(second)
    await fake_discord.wait_for(lambda: queued(bot, thread_id) == 0)
    held.set()
    await reply_done(fake_discord, thread_id, "First answer.")
    await fake_discord.wait_for(lambda: not bot.core.replies.busy(thread_id))
    assert len(fake_openai.requests) == 1 and len(texts_in(fake_discord, thread_id)) == 1


async def test_a_queued_question_edited_is_answered_as_edited(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    held = asyncio.Event()
    fake_openai.respond(Script(text="First answer.", first_gate=held), Script(text="Second."))
    thread_id = await ask(fake_discord, world, "first")
    await fake_openai.wait_for_requests(1)
    second = await fake_discord.user_says(thread_id, world.bob, "what is 2+3?")
    await fake_discord.wait_for(lambda: queued(bot, thread_id) == 1)
    await fake_discord.user_edits(second, "what is 2+2?")
    await asyncio.sleep(0)  # the edit event reaches the bot before the first reply ends
    held.set()
    await reply_done(fake_discord, thread_id, "Second.", count=2)
    assert said(fake_openai.requests[1])[-1] == ("user", "what is 2+2?")


async def test_a_missing_thread_permission_is_said_before_opening_a_thread(
    fake_discord, fake_openai, world, start_bot
):
    world.guild.bot_permissions = 0  # no Administrator: channel overrides apply
    fake_discord.channels[world.channel]["permission_overwrites"] = [
        {"id": str(world.guild.bot_role), "type": 0, "allow": "0",
         "deny": str(SEND_MESSAGES_IN_THREADS)},
    ]  # fmt: skip
    await start_bot()
    question = await fake_discord.user_says(world.channel, world.alice, "hi", mention_bot=True)
    (notice,) = await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    assert "**Send Messages in Threads**" in notice["content"]
    assert int(notice["message_reference"]["message_id"]) == int(question["id"])
    assert fake_discord.threads() == [] and fake_openai.requests == []


async def test_a_thread_the_bot_may_not_post_in_is_said_next_to_the_question(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    fake_discord.fail("POST", r"^/channels/\d+/messages$", 403, times=2)  # reply and notice
    question = await fake_discord.user_says(world.channel, world.alice, "hi", mention_bot=True)
    (notice,) = await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    assert "**Send Messages in Threads**" in notice["content"]
    assert int(notice["message_reference"]["message_id"]) == int(question["id"])


async def test_a_thread_discord_fails_to_open_is_said(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    fake_discord.fail("POST", r"/threads$", 400)
    await fake_discord.user_says(world.channel, world.alice, "hi", mention_bot=True)
    (notice,) = await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    assert "couldn't open a thread" in notice["content"] and fake_openai.requests == []


async def test_a_server_that_wants_alternating_roles_gets_them_after_one_refusal(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    held = asyncio.Event()
    refusal = "Conversation roles must alternate user/assistant/user/assistant/..."
    fake_openai.respond(
        Script(text="First.", first_gate=held),
        Script(status=400, error_message=refusal),
        Script(text="Both answered."),
    )
    thread_id = await ask(fake_discord, world, "first")
    await fake_openai.wait_for_requests(1)
    await fake_discord.user_says(thread_id, world.bob, "bob's question")
    await fake_discord.user_says(thread_id, world.alice, "alice's question")
    await fake_discord.wait_for(lambda: queued(bot, thread_id) == 2)
    held.set()
    await reply_done(fake_discord, thread_id, "Both answered.", count=2)

    refused, retried = fake_openai.requests[1:]
    assert said(refused)[-2:] == [("user", "bob's question"), ("user", "alice's question")]
    assert said(retried)[-1] == ("user", "bob: bob's question\n\nalice: alice's question")
    roles = [m["role"] for m in retried["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert bot.core.conversations.alternate_roles is True  # remembered


async def test_the_model_is_asked_while_discord_opens_the_thread(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    opening = fake_discord.hold("POST", r"/threads$")  # Discord is slow to open the thread
    fake_openai.respond(Script(text="Ready when the thread is."))
    thread_id = await ask(fake_discord, world, "quick question")
    await fake_openai.wait_for_requests(1)  # asked before the thread exists
    assert fake_discord.threads() == []
    opening.set()
    await reply_done(fake_discord, thread_id, "Ready when the thread is.")
