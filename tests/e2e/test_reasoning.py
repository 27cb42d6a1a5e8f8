"""End to end: reasoning models. Reasoning, in whatever form the server sends it, reaches neither
Discord nor the history re-sent with the next request; the request follows the model family."""

from __future__ import annotations

import json

import pytest

from bot.core.store import TurnStatus
from tests.e2e.test_chat import ask, reply_done, texts_in
from tests.fakes.openai_server import Script

REASONING = "SECRET-REASONING: the user wants a number, say 42."
ANSWER = "The answer is 42."

FORMS = {
    "reasoning_content": Script(text=ANSWER, reasoning=REASONING, chunk_size=5),
    "reasoning": Script(text=ANSWER, reasoning=REASONING, reasoning_as="reasoning", chunk_size=5),
    "think": Script(text=ANSWER, reasoning=REASONING, reasoning_as="think", chunk_size=3),
    "think split at the tags": Script(
        pieces=["\n<th", "ink>", REASONING[:10], REASONING[10:] + "</", "thi", "nk>\n\n", ANSWER]
    ),
}


@pytest.mark.parametrize("script", FORMS.values(), ids=FORMS.keys())
async def test_reasoning_reaches_neither_discord_nor_the_history(
    fake_discord, fake_openai, world, start_bot, script
):
    bot = await start_bot()
    fake_openai.respond(script, Script(text="Noted."))
    thread_id = await ask(fake_discord, world, "pick a number")
    await reply_done(fake_discord, thread_id, ANSWER)
    await ask(fake_discord, world, "why?", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "Noted.", count=2)

    sent_to_discord = [json.dumps(r.body) for r in fake_discord.requests if r.body]
    assert sent_to_discord and not any("SECRET-REASONING" in body for body in sent_to_discord)
    assert texts_in(fake_discord, thread_id) == [ANSWER, "Noted."]
    history = fake_openai.requests[1]["messages"]
    assert {"role": "assistant", "content": ANSWER} in history
    assert not any("SECRET" in m["content"] or "think>" in m["content"] for m in history)
    stored = await bot.services.store.newest_turns(thread_id, limit=4)
    assert [(t.content, t.status) for t in stored if t.role == "assistant"] == [
        ("Noted.", TurnStatus.COMPLETE), (ANSWER, TurnStatus.COMPLETE),
    ]  # fmt: skip

    # Kept apart, it is shown on request: a Reasoning button, answered privately.
    answer, noted = fake_discord.bot_messages(thread_id)
    assert not noted["components"]  # no reasoning, no button
    token = await fake_discord.click(answer, world.bob)
    (shown,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert shown["data"]["flags"] & 64  # ephemeral
    assert shown["data"]["content"].endswith(f"> {REASONING}")


async def test_a_reasoning_model_gets_its_fields_and_allowance(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(OPENAI_MODEL="openai/gpt-5-mini", REASONING_EFFORT="low")
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    (request,) = fake_openai.requests
    assert request["max_completion_tokens"] == 16_384 and "max_tokens" not in request
    assert request["reasoning_effort"] == "low"
    assert not {"temperature", "top_p"} & request.keys()


async def test_a_stream_dropped_before_its_first_token_is_retried(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    bot.services.llm.backoff = 0.01
    fake_openai.respond(Script(die_after=0), Script(text="Answered on the second try."))
    thread_id = await ask(fake_discord, world, "hello")
    await reply_done(fake_discord, thread_id, "Answered on the second try.")
    assert len(fake_openai.requests) == 2
