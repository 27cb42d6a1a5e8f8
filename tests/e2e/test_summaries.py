"""End to end: long threads stay cheap with rolling summaries and stable prompt prefixes."""

from __future__ import annotations

from tests.e2e.test_chat import ask, reply_done
from tests.fakes.openai_server import Script

LONG = "this sentence pads the message to a realistic length. " * 20  # ~220 tokens


def chat_requests(fake_openai):
    return [r for r in fake_openai.requests if r.get("stream")]


def summary_requests(fake_openai):
    return [r for r in fake_openai.requests if not r.get("stream")]


async def converse(fake_discord, fake_openai, world, turns, thread_id=None, first=0):
    """Alternate user messages and replies; returns the thread id."""
    for n in range(first, first + turns):
        text = f"message {n}: {LONG}"
        if thread_id is None:
            thread_id = await ask(fake_discord, world, text)
        else:
            await ask(fake_discord, world, text, channel=thread_id, mention=False)
        count = len(fake_discord.bot_messages(thread_id)) + 1
        await reply_done(fake_discord, thread_id, fake_openai.default.text, count=count)
    return thread_id


async def test_evicted_turns_are_summarised_and_the_summary_follows_the_persona(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot(HISTORY_TOKENS="600", SYSTEM_PROMPT="the persona")
    fake_openai.default = Script(text="A short reply.")
    fake_openai.non_streamed = Script(text="SUMMARY: alice asked about messages 0 to 3.")
    thread_id = await converse(fake_discord, fake_openai, world, 4)
    await bot.core.summarizer.wait_idle()

    (summary_call, *_) = summary_requests(fake_openai)
    transcript = summary_call["messages"][-1]["content"]
    assert "message 0:" in transcript and "alice:" in transcript
    assert summary_call["max_tokens"] == 400

    await converse(fake_discord, fake_openai, world, 1, thread_id, first=4)
    messages = chat_requests(fake_openai)[-1]["messages"]
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("the persona\n")
    assert "SUMMARY: alice asked" in messages[0]["content"] and messages[1]["role"] == "user"
    assert all("message 0:" not in m["content"] for m in messages[1:])
    assert messages[-1]["content"].startswith("message 4:")


async def test_a_failing_summary_does_not_affect_replies(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot(HISTORY_TOKENS="600")
    fake_openai.non_streamed = Script(status=500)
    thread_id = await converse(fake_discord, fake_openai, world, 5)
    await bot.core.summarizer.wait_idle()
    assert summary_requests(fake_openai)  # it was tried, and failed
    messages = chat_requests(fake_openai)[-1]["messages"]
    assert messages[1]["role"] == "user"  # no summary, the plain window
    assert len(messages) < 2 * 5 + 1  # older turns left the window without a summary
    assert (await bot.services.store.get_conversation(thread_id)).summary is None


async def test_summary_survives_restart_and_reset_clears_it(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot(HISTORY_TOKENS="600")
    fake_openai.non_streamed = Script(text="SUMMARY TEXT")
    thread_id = await converse(fake_discord, fake_openai, world, 4)
    await bot.core.summarizer.wait_idle()
    await bot.close()

    bot = await start_bot(HISTORY_TOKENS="600")
    await converse(fake_discord, fake_openai, world, 1, thread_id, first=4)
    assert "SUMMARY TEXT" in chat_requests(fake_openai)[-1]["messages"][0]["content"]

    token = await fake_discord.invoke(thread_id, world.alice, "reset")
    await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    await converse(fake_discord, fake_openai, world, 1, thread_id, first=5)
    assert [m["role"] for m in chat_requests(fake_openai)[-1]["messages"]] == ["system", "user"]


async def test_prompt_cache_key_only_when_configured(fake_discord, fake_openai, world, start_bot):
    bot = await start_bot()
    await converse(fake_discord, fake_openai, world, 1)
    assert "prompt_cache_key" not in chat_requests(fake_openai)[-1]  # not OpenAI: not sent
    await bot.close()
    await start_bot(PROMPT_CACHE_KEY="on")
    thread_id = await converse(fake_discord, fake_openai, world, 1)
    assert chat_requests(fake_openai)[-1]["prompt_cache_key"] == f"discord-conversation-{thread_id}"
