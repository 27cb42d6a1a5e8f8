"""End to end through both fakes: mention → thread → streamed reply → follow-ups."""

from __future__ import annotations

from tests.fakes.openai_server import Script


async def test_mention_opens_thread_and_streams_reply(fake_discord, fake_openai, world, start_bot):
    await start_bot()
    fake_openai.respond(Script(text="Paris is the capital of France.", chunk_size=4))
    prompt = await fake_discord.user_says(
        world.channel, world.alice, "What is the capital of France?", mention_bot=True
    )

    thread_id = int(prompt["id"])
    reply = await fake_discord.wait_for(
        lambda: [
            m
            for m in fake_discord.bot_messages(thread_id)
            if m["content"] == "Paris is the capital of France."
        ]
    )
    thread = fake_discord.channels[thread_id]
    assert thread["name"] == "What is the capital of France?"
    assert reply[0]["components"] == []  # the Stop button is gone once the reply is done
    request = fake_openai.requests[0]
    assert request["stream"] is True
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][-1] == {
        "role": "user",
        "content": "What is the capital of France?",
        "name": "alice",
    }
