"""Self-tests of the fakes: they must behave like the real services where the bot relies on it."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import discord
import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.clock import Clock
from tests.fakes.discord_payloads import snowflake
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


async def test_fake_discord_models_the_global_limit_over_a_sliding_second(fake_discord):
    clock = Clock(1000.0)
    fake_discord.clock, fake_discord.global_limit = clock, 3
    statuses = [(await _request(fake_discord, "GET", "/users/@me"))[0] for _ in range(3)]
    status, headers, body = await _request(fake_discord, "GET", "/users/@me")
    assert statuses == [200] * 3 and status == 429
    assert body == {"message": "You are being rate limited.", "retry_after": 1.0, "global": True}
    assert headers["Via"] and headers["Retry-After"] == "1"
    assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
    assert "X-RateLimit-Remaining" not in headers  # no bucket: discord.py must not pick one
    # Webhooks (interaction follow-ups) are exempt.
    webhook = f"/webhooks/{fake_discord.app_id}/some-token"  # not a live interaction's: 401
    assert (await _request(fake_discord, "POST", webhook, {"content": "x"}))[0] == 401
    clock.now += 0.4
    status, _, body = await _request(fake_discord, "GET", "/users/@me")
    assert status == 429 and body["retry_after"] == 0.6
    clock.now += 0.6  # one second after the first three: the window has moved past them
    assert [(await _request(fake_discord, "GET", "/users/@me"))[0] for _ in range(4)] == [
        *[200] * 3, 429,
    ]  # fmt: skip
    assert (fake_discord.global_429s, fake_discord.edit_429s, fake_discord.all_429s) == (3, 0, 3)
    assert fake_discord.peak_requests() == 5  # refused ones included, the webhook not


async def test_fake_discord_global_limit_can_be_switched_off(fake_discord):
    fake_discord.clock, fake_discord.global_limit = Clock(1000.0), 3
    fake_discord.enforce_global_limit = False
    statuses = [(await _request(fake_discord, "GET", "/users/@me"))[0] for _ in range(5)]
    assert statuses == [200] * 5 and fake_discord.global_429s == 0
    assert fake_discord.peak_requests() == 5


@pytest.fixture
async def discord_http(fake_discord, monkeypatch):
    """discord.py's own REST client, pointed at the fake."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake_discord.api_base)
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    await http.static_login(fake_discord.token)
    yield http
    await http.close()


async def test_discord_py_honours_the_fakes_global_429(fake_discord, world, discord_http):
    # discord.py sends one request at a time per route and channel until it learns the bucket,
    # so six channels carry six streams of requests at once; 60 in all, more than 50 a second.
    ids = [fake_discord.add_channel(world.guild, f"c{i}") for i in range(6)]
    started = time.monotonic()
    channels = await asyncio.gather(*(discord_http.get_channel(i) for i in ids for _ in range(10)))
    assert [int(c["id"]) for c in channels] == [i for i in ids for _ in range(10)]  # all, in time
    assert fake_discord.global_429s > 0 and time.monotonic() - started > 0.9  # waited, then won
    assert fake_discord.peak_requests() > 50  # the refused ones count as sent...
    admitted = sorted(r.at for r in fake_discord.requests if r.counted and r.status != 429)
    assert len(admitted) == 61  # ...but never more than 50 are let in within a second:
    assert all(later - first >= 1.0 for first, later in zip(admitted, admitted[50:], strict=False))


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


async def _chunks(client, **options):
    stream = await client.chat.completions.create(
        model="m", messages=[], stream=True, stream_options={"include_usage": True}, **options
    )
    return [chunk async for chunk in stream]


def _field(chunks, name):
    return "".join(getattr(c.choices[0].delta, name, None) or "" for c in chunks if c.choices)


@pytest.mark.parametrize("form", ["reasoning_content", "reasoning"])
async def test_fake_openai_streams_reasoning_in_its_own_field_before_the_answer(
    fake_openai, client, form
):
    fake_openai.respond(
        Script(text="The answer.", reasoning="Let me think.", reasoning_as=form, chunk_size=4)
    )
    chunks = await _chunks(client)
    assert _field(chunks, form) == "Let me think."
    assert _field(chunks, "content") == "The answer."
    first_content = next(
        i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content
    )
    assert all(
        not getattr(c.choices[0].delta, form, None) for c in chunks[first_content:] if c.choices
    )


async def test_fake_openai_streams_inline_think_tags_in_given_pieces(fake_openai, client):
    pieces = ["  <thi", "nk>hm", "m</th", "ink>\n\nYes."]
    fake_openai.respond(
        Script(pieces=pieces), Script(text="Yes.", reasoning="hmm", reasoning_as="think")
    )
    assert [c.choices[0].delta.content for c in await _chunks(client) if c.choices][:4] == pieces
    assert _field(await _chunks(client), "content") == "<think>hmm</think>Yes."


async def test_fake_openai_reports_reasoning_tokens(fake_openai, client):
    fake_openai.respond(Script(text="abcd" * 3, reasoning="r", reasoning_tokens=40))
    usage = (await _chunks(client))[-1].usage
    assert usage.completion_tokens_details.reasoning_tokens == 40
    assert usage.completion_tokens == 3 + 40


async def test_fake_openai_non_streamed_carries_reasoning(fake_openai, client):
    fake_openai.non_streamed = Script(text="Summary.", reasoning="thinking", reasoning_tokens=5)
    completion = await client.chat.completions.create(model="m", messages=[])
    message = completion.choices[0].message
    assert (message.content, message.reasoning_content) == ("Summary.", "thinking")
    assert completion.usage.completion_tokens_details.reasoning_tokens == 5


async def test_fake_openai_can_fail_a_stream_before_its_first_chunk(fake_openai, client):
    fake_openai.respond(
        Script(die_after=0),
        Script(error_event_after=0, error_code="server_error", error_message="overloaded"),
    )
    stream = await client.chat.completions.create(model="m", messages=[], stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    stream = await client.chat.completions.create(model="m", messages=[], stream=True)
    with pytest.raises(openai.APIError) as event:
        async for chunk in stream:
            received.append(chunk)
    assert event.value.code == "server_error" and "overloaded" in event.value.message
    assert received == []


async def test_fake_openai_first_gate_holds_the_stream_before_the_first_chunk(fake_openai, client):
    gate = asyncio.Event()
    fake_openai.respond(Script(text="late", first_gate=gate))
    stream = await client.chat.completions.create(model="m", messages=[], stream=True)
    first = asyncio.ensure_future(anext(aiter(stream)))
    await asyncio.sleep(0.2)
    assert not first.done() and 0 not in fake_openai.first_chunk_at
    gate.set()
    assert (await asyncio.wait_for(first, 5)).choices[0].delta.content == "late"
    await stream.close()


async def test_fake_openai_answers_a_raw_error_body(fake_openai, client):
    detail = {"detail": [{"loc": ["body", "stream_options"], "msg": "extra fields not permitted"}]}
    fake_openai.respond(Script(status=422, error_body=detail))
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        await client.chat.completions.create(model="m", messages=[])
    assert refused.value.body == detail


async def test_fake_discord_models_a_user_installed_apps_interaction_webhook(fake_discord, world):
    group_dm = fake_discord.add_group_dm(world.alice, world.bob)
    status, _, body = await _request(fake_discord, "GET", f"/channels/{group_dm}/messages")
    assert (status, body["code"]) == (403, 50001)  # the bot is not in other people's DMs
    fresh, old = snowflake(), snowflake(seconds_ago=15 * 60 + 1)
    for interaction_id, token in ((fresh, "user-token"), (old, "old-token")):
        fake_discord.interactions[token] = {
            "id": str(interaction_id), "authorizing_integration_owners": {"1": "1"},
        }  # fmt: skip
        fake_discord.interaction_channels[token] = group_dm
    webhook = f"/webhooks/{fake_discord.app_id}/user-token"
    posted = [await _request(fake_discord, "POST", webhook, {"content": str(i)}) for i in range(6)]
    assert [status for status, _, _ in posted] == [200] * 5 + [400]
    assert posted[-1][2]["code"] == 40094
    first = posted[0][2]["id"]
    status, _, edited = await _request(
        fake_discord, "PATCH", f"{webhook}/messages/{first}", {"content": "edited"}
    )
    assert (status, edited["content"], edited["edits"]) == (200, "edited", 1)
    assert [m["content"] for m in fake_discord.bot_messages(group_dm)][:2] == ["edited", "1"]
    expired = f"/webhooks/{fake_discord.app_id}/old-token"
    status, _, body = await _request(fake_discord, "POST", expired, {"content": "late"})
    assert (status, body["code"]) == (401, 50027)  # tokens last 15 minutes
