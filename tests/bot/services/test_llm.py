"""The model client: request bodies, error mapping, and streams through the fake OpenAI server
(reasoning kept apart in every form, retries before the first delta, usage)."""

from __future__ import annotations

import asyncio

import openai
import pytest
from openai import AsyncOpenAI

from bot.core.catalog import REASONING_ROOM, TokenParameter
from bot.core.llm import Delta, Failure, LLMError, Reply, Usage
from bot.services.llm import LLMClient, classify
from tests.fakes.openai_server import Script

try:  # openai 3.x ships its own HTTP stack; 1.x and 2.x use httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]


def client(is_openai: bool, model: str = "m", **options) -> LLMClient:
    return LLMClient(
        AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1"),
        model=model,
        is_openai=is_openai,
        **options,
    )


def test_openai_gets_max_completion_tokens_and_local_servers_max_tokens():
    assert client(True)._body([], 100) == {
        "model": "m",
        "messages": [],
        "max_completion_tokens": 100,
    }
    assert client(False)._body([], 100) == {"model": "m", "messages": [], "max_tokens": 100}


def test_prompt_cache_key_goes_in_the_body_only_when_given():
    body = client(True)._body([], 10, cache_key="conv-1", model="cheap")
    assert body["extra_body"] == {"prompt_cache_key": "conv-1"} and body["model"] == "cheap"


def _status_error(
    status: int, code: str | None = None, headers: dict | None = None
) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request)
    body = {"error": {"message": "boom", "code": code}}
    return AsyncOpenAI(api_key="x")._make_status_error(
        f"Error code: {status}", body=body, response=response
    )


@pytest.mark.parametrize(
    ("status", "code", "failure"),
    [
        (429, "rate_limit_exceeded", Failure.RATE_LIMITED),
        (429, "insufficient_quota", Failure.QUOTA),
        (400, "context_length_exceeded", Failure.CONTEXT_LENGTH),
        (401, None, Failure.AUTH),
        (403, None, Failure.AUTH),
        (404, "model_not_found", Failure.MODEL_NOT_FOUND),
        (500, None, Failure.UNAVAILABLE),
        (503, None, Failure.UNAVAILABLE),
        (422, None, Failure.BAD_REQUEST),
    ],
)
def test_errors_map_to_causes(status, code, failure):
    assert classify(_status_error(status, code)).failure is failure


def test_retry_after_headers_are_read():
    assert classify(_status_error(429, headers={"retry-after": "3"})).retry_after == 3.0
    assert classify(_status_error(429, headers={"retry-after-ms": "250"})).retry_after == 0.25


def test_connection_errors_are_unavailable():
    request = httpx.Request("POST", "http://127.0.0.1/")
    assert classify(openai.APIConnectionError(request=request)).failure is Failure.UNAVAILABLE


def test_retry_policy_is_bounded():
    llm = client(True)
    busy = LLMError(Failure.RATE_LIMITED, "x")
    assert llm._retry_delay(busy, 1) is not None and llm._retry_delay(busy, 3) is None
    assert llm._retry_delay(LLMError(Failure.QUOTA, "x"), 1) is None
    assert (
        llm._retry_delay(LLMError(Failure.RATE_LIMITED, "x", retry_after=60), 1) is None
    )  # too long


@pytest.mark.parametrize(
    ("model", "is_openai", "options", "fields"),
    [
        ("gpt-5-mini", False, {}, {"max_completion_tokens": 100}),  # the family, not the host
        ("openai/o4-mini", False, {"reasoning_effort": "low"},
         {"max_completion_tokens": 100, "reasoning_effort": "low"}),
        ("gpt-4o-mini", True, {"reasoning_effort": "low"}, {"max_completion_tokens": 100}),
        ("llama3.1", False, {"token_parameter": TokenParameter.MAX_COMPLETION_TOKENS},
         {"max_completion_tokens": 100}),
    ],
)  # fmt: skip
def test_the_body_follows_the_model_family(model, is_openai, options, fields):
    body = client(is_openai, model, **options)._body([], 100)
    assert body == {"model": model, "messages": [], **fields}


def test_a_summary_model_gets_its_own_fields():
    llm = client(False, "llama3.1", reasoning_effort="high")
    assert llm._body([], 10) == {"model": "llama3.1", "messages": [], "max_tokens": 10}
    assert llm._body([], 10, model="openai/gpt-5-nano") == {
        "model": "openai/gpt-5-nano", "messages": [], "max_completion_tokens": 10,
        "reasoning_effort": "high",
    }  # fmt: skip


def test_spent_counts_reasoning_when_the_server_reports_no_usage():
    count = len  # one token per character, for the test
    assert Reply(text="abc", reasoning="defg").spent(5, count) == Usage(5, 7)
    assert Reply(reasoning="xy").spent(5, count) == Usage(5, 2)
    assert Reply().spent(5, count) is None
    assert Reply(text="abc", usage=Usage(1, 2)).spent(5, count) == Usage(1, 2)


# --- through the fake OpenAI server ------------------------------------------------------------


@pytest.fixture
async def llm(fake_openai):
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    llm = LLMClient(
        AsyncOpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0),
        model="some-local-model",
        is_openai=False,
        sleep=sleep,
        backoff=0.01,
    )
    llm.sleeps = sleeps
    yield llm
    await llm.close()


async def collect(llm: LLMClient, reply: Reply, retries: list | None = None) -> list[Delta]:
    async def on_retry(error: LLMError, delay: float) -> None:
        if retries is not None:
            retries.append(error.failure)

    messages = [{"role": "user", "content": "hi"}]
    return [d async for d in llm.stream(messages, max_tokens=50, reply=reply, on_retry=on_retry)]


REASONING_SCRIPTS = [
    Script(text="The answer.", reasoning="Step one. Step two.", reasoning_as="reasoning_content"),
    Script(text="The answer.", reasoning="Step one. Step two.", reasoning_as="reasoning"),
    Script(text="The answer.", reasoning="Step one. Step two.", reasoning_as="think", chunk_size=3),
    Script(pieces=["\n<", "think", ">Step one.", " Step two.</", "think>", "\n\n", "The answer."]),
    Script(pieces=["<think>Step one. Step two.</think>The", " answer."], chunk_size=1),
]


@pytest.mark.parametrize("script", REASONING_SCRIPTS, ids=lambda s: s.reasoning_as + str(s.pieces))
async def test_reasoning_never_reaches_the_answer(fake_openai, llm, script):
    fake_openai.respond(script)
    reply = Reply()
    deltas = await collect(llm, reply)
    assert "".join(d.text for d in deltas) == reply.text == "The answer."
    assert "".join(d.reasoning for d in deltas) == reply.reasoning == "Step one. Step two."
    first_text = next(i for i, d in enumerate(deltas) if d.text)
    assert all(d.reasoning and not d.text for d in deltas[:first_text])  # "thinking…" first
    assert all(d for d in deltas)  # no empty deltas


async def test_reasoning_tokens_come_from_the_usage(fake_openai, llm):
    fake_openai.respond(Script(text="abcd", reasoning="r", reasoning_tokens=64), Script(text="x"))
    reply = Reply()
    await collect(llm, reply)
    assert reply.reasoning_tokens == 64 and reply.usage.completion_tokens == 65
    plain = Reply()
    await collect(llm, plain)
    assert plain.reasoning_tokens is None and plain.usage is not None


@pytest.mark.parametrize(
    "failing",
    [
        Script(die_after=0),  # the connection drops after the headers
        Script(error_event_after=0, error_code="server_error"),  # an error event comes first
        Script(error_event_after=1, pieces=["<thi", "nk>never shown</think>x"]),  # held text only
        Script(die_after=1, pieces=["  ", "answer"]),  # leading whitespace is not yet a token
    ],
)
async def test_a_stream_that_fails_before_its_first_delta_is_retried(fake_openai, llm, failing):
    fake_openai.respond(failing, Script(text="Second try."))
    reply, retries = Reply(), []
    deltas = await collect(llm, reply, retries)
    assert [d.text for d in deltas] == ["Second t", "ry."] and reply.text == "Second try."
    assert retries == [Failure.UNAVAILABLE] and len(llm.sleeps) == 1
    assert len(fake_openai.requests) == 2


async def test_failing_before_the_first_delta_is_bounded(fake_openai, llm):
    fake_openai.respond(*[Script(die_after=0)] * 3, Script(text="never asked for"))
    with pytest.raises(LLMError) as failed:
        await collect(llm, Reply())
    assert failed.value.failure is Failure.UNAVAILABLE
    assert len(fake_openai.requests) == 3 and len(llm.sleeps) == 2


@pytest.mark.parametrize(
    "failing",
    [
        Script(text="Some text then", chunk_size=5, die_after=2),
        Script(text="Some text then", chunk_size=5, error_event_after=1),
        Script(
            text="never", reasoning="Thinking hard", chunk_size=5, die_after=2
        ),  # reasoning only
    ],
)
async def test_a_stream_that_fails_after_its_first_delta_is_cut_off(fake_openai, llm, failing):
    fake_openai.respond(failing, Script(text="not asked for"))
    reply, retries = Reply(), []
    with pytest.raises(LLMError) as failed:
        await collect(llm, reply, retries)
    assert failed.value.failure is Failure.CUT_OFF
    assert retries == [] and len(fake_openai.requests) == 1
    assert "never" not in reply.text


@pytest.mark.parametrize(
    "refusal",
    [
        Script(status=400, error_message="Unrecognized request argument supplied: stream_options"),
        Script(status=422, error_body={"detail": [{"loc": ["body", "stream_options"],
                                                   "msg": "extra fields not permitted"}]}),
    ],
)  # fmt: skip
async def test_a_server_that_refuses_stream_options_is_asked_without_it(fake_openai, llm, refusal):
    fake_openai.respond(refusal, Script(text="Fine."), Script(text="Again."))
    reply = Reply()
    await collect(llm, reply)
    assert reply.text == "Fine." and reply.usage is None and not llm.usage_in_stream
    await collect(llm, Reply())
    first, second, third = fake_openai.requests
    assert "stream_options" in first
    assert "stream_options" not in second and "stream_options" not in third  # remembered
    assert llm.sleeps == []  # not a retry


async def test_an_unrelated_422_is_a_bad_request(fake_openai, llm):
    fake_openai.respond(Script(status=422, error_body={"detail": [{"loc": ["body", "messages"]}]}))
    with pytest.raises(LLMError) as failed:
        await collect(llm, Reply())
    assert failed.value.failure is Failure.BAD_REQUEST and llm.usage_in_stream


@pytest.mark.parametrize(
    "script",
    [
        Script(text="The summary.", reasoning="Let me summarise.", reasoning_as="think"),
        Script(text="The summary.", reasoning="Let me summarise.", reasoning_as="reasoning"),
        Script(text="The summary.", reasoning="Let me summarise.", reasoning_tokens=9),
    ],
    ids=["think", "reasoning", "reasoning_content"],
)
async def test_a_complete_text_keeps_reasoning_apart(fake_openai, llm, script):
    fake_openai.non_streamed = script
    reply = await llm.complete([{"role": "user", "content": "sum up"}], 400, model="gpt-5-nano")
    assert (reply.text, reply.reasoning) == ("The summary.", "Let me summarise.")
    assert reply.finish_reason == "stop" and reply.usage is not None
    assert reply.reasoning_tokens == script.reasoning_tokens
    # The summary model's family: its field, and room to think before the 400 tokens of summary.
    assert fake_openai.requests[0]["max_completion_tokens"] == 400 + REASONING_ROOM


async def test_a_complete_text_from_a_chat_model_gets_the_plain_allowance(fake_openai, llm):
    await llm.complete([{"role": "user", "content": "sum up"}], 400)
    assert fake_openai.requests[0]["max_tokens"] == 400


@pytest.mark.parametrize(("model", "warned"), [("llama3.1", True), ("gpt-5-mini", False)])
def test_an_effort_the_model_will_not_get_is_logged(caplog, model, warned):
    client(False, model, reasoning_effort="low")
    assert ("REASONING_EFFORT is set" in caplog.text) is warned


async def test_a_stream_closed_after_its_first_delta_hangs_up_its_http_response(fake_openai, llm):
    gate = asyncio.Event()
    fake_openai.respond(Script(text="one two three four", chunk_size=4, gate=gate))
    messages = [{"role": "user", "content": "hi"}]
    stream = llm.stream(messages, max_tokens=50, reply=Reply())
    assert (await anext(stream)).text == "one "
    await stream.aclose()  # as a stopped reply does (bot.core.replies.job)
    gate.set()  # the server writes on, to a connection the client has closed
    await asyncio.wait_for(fake_openai.hang_up.wait(), 5)
    assert fake_openai.hung_up == 1 and fake_openai.done_at == {}


WEATHER = {
    "type": "function",
    "function": {
        "name": "time__get_time",
        "description": "The time in a zone",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}


async def test_tool_calls_streamed_in_pieces_are_assembled(fake_openai, llm):
    """As OpenAI streams them: two calls in one response, each call's arguments split across
    chunks; the request offered the tools, and nothing of the calls reaches the answer."""
    calls = [
        ("call_a", "time__get_time", '{"zone": "Europe/Paris"}'),
        ("call_b", "fetch__fetch", '{"url": "http://127.0.0.1/page", "max_length": 500}'),
    ]
    fake_openai.respond(Script(text="", tool_calls=calls, chunk_size=5))
    reply = Reply()
    deltas = await llm_stream(llm, reply, tools=[WEATHER])
    assert deltas == [] and reply.text == ""
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == calls
    assert reply.finish_reason == "tool_calls"
    assert fake_openai.requests[0]["tools"] == [WEATHER]


async def test_text_then_a_call_and_no_tools_offered_means_no_tools_field(fake_openai, llm):
    fake_openai.respond(
        Script(text="Let me look.", tool_calls=[("c1", "t", "{}")]), Script(text="Plain.")
    )
    reply = Reply()
    await llm_stream(llm, reply, tools=[WEATHER])
    assert reply.text == "Let me look." and [c.name for c in reply.tool_calls] == ["t"]
    plain = Reply()
    await llm_stream(llm, plain)
    assert plain.tool_calls == [] and "tools" not in fake_openai.requests[1]


async def llm_stream(llm, reply: Reply, **options) -> list[Delta]:
    messages = [{"role": "user", "content": "hi"}]
    return [d async for d in llm.stream(messages, max_tokens=64, reply=reply, **options)]


@pytest.mark.parametrize(
    "message",
    [
        "registry.ollama.ai/library/gemma3:4b does not support tools",  # Ollama
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
    ],
)
async def test_a_server_that_takes_no_tools_says_so_as_its_own_failure(fake_openai, llm, message):
    fake_openai.respond(Script(status=400, error_message=message))
    with pytest.raises(LLMError) as caught:
        await llm_stream(llm, Reply(), tools=[WEATHER])
    assert caught.value.failure is Failure.NO_TOOLS
