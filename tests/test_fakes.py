"""Self-tests of the fakes: they must behave like the real services where the bot relies on it."""

from __future__ import annotations

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_server import Script


async def _request(fake_discord, method, path, json=None, token=None):
    headers = {"Authorization": f"Bot {token or fake_discord.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, fake_discord.api_base + path, json=json, headers=headers
        ) as response,
    ):
        return response.status, response.headers, await response.json()


async def test_fake_discord_answers_json_exactly_and_checks_the_token(fake_discord):
    status, headers, body = await _request(fake_discord, "GET", "/users/@me")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body["id"] == str(fake_discord.bot_user.id)
    status, _, _ = await _request(fake_discord, "GET", "/users/@me", token="nope")
    assert status == 401


async def test_fake_discord_models_the_per_channel_edit_limit(fake_discord, world):
    _, _, message = await _request(
        fake_discord, "POST", f"/channels/{world.channel}/messages", {"content": "x"}
    )
    statuses = []
    for i in range(7):
        status, headers, body = await _request(
            fake_discord,
            "PATCH",
            f"/channels/{world.channel}/messages/{message['id']}",
            {"content": str(i)},
        )
        statuses.append(status)
    assert statuses == [200] * 5 + [429, 429]
    assert headers["Via"] and float(headers["X-RateLimit-Reset-After"]) > 0
    assert body["retry_after"] > 0 and body["global"] is False
    assert fake_discord.edit_429s == 2
    assert [r.method for r in fake_discord.requests].count("PATCH") == 7


async def test_fake_discord_injected_faults(fake_discord, world):
    fake_discord.fail("POST", r"/messages$", 503, times=1)
    assert (
        await _request(
            fake_discord, "POST", f"/channels/{world.channel}/messages", {"content": "a"}
        )
    )[0] == 503
    assert (
        await _request(
            fake_discord, "POST", f"/channels/{world.channel}/messages", {"content": "a"}
        )
    )[0] == 200


async def test_fake_discord_threads_share_the_message_id(fake_discord, world):
    message = await fake_discord.user_says(world.channel, world.alice, "hi")
    status, _, thread = await _request(
        fake_discord,
        "POST",
        f"/channels/{world.channel}/messages/{message['id']}/threads",
        {"name": "t"},
    )
    assert status == 200 and thread["id"] == message["id"] and thread["type"] == 11


@pytest.fixture
async def client(fake_openai):
    client = AsyncOpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    yield client
    await client.close()


async def test_fake_openai_streams_chunks_usage_and_done(fake_openai, client):
    fake_openai.respond(
        Script(text="Hello there, world", chunk_size=5, prompt_tokens=42, cached_tokens=8)
    )
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there, world"
    assert chunks[-1].usage.prompt_tokens == 42
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 8
    assert fake_openai.requests[0]["messages"] == [{"role": "user", "content": "hi"}]


async def test_fake_openai_errors_are_openai_shaped(fake_openai, client):
    fake_openai.respond(
        Script(status=429, error_code="insufficient_quota"),
        Script(status=400, error_code="context_length_exceeded"),
        Script(status=429, error_code="rate_limit_exceeded", headers={"retry-after": "2"}),
    )
    with pytest.raises(openai.RateLimitError) as quota:
        await client.chat.completions.create(model="m", messages=[])
    assert quota.value.code == "insufficient_quota"
    with pytest.raises(openai.BadRequestError) as too_long:
        await client.chat.completions.create(model="m", messages=[])
    assert too_long.value.code == "context_length_exceeded"
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model="m", messages=[])
    assert limited.value.response.headers["retry-after"] == "2"


async def test_fake_openai_can_drop_the_connection_mid_stream(fake_openai, client):
    fake_openai.respond(Script(text="a" * 100, chunk_size=10, die_after=2))
    stream = await client.chat.completions.create(model="m", messages=[], stream=True)
    received = []
    with pytest.raises(openai.APIError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 2


async def test_fake_openai_non_streamed(fake_openai, client):
    completion = await client.chat.completions.create(model="m", messages=[])
    assert completion.choices[0].message.content == fake_openai.default.text
