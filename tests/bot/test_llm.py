"""The model client's request bodies and its error mapping (no network: bodies and exceptions)."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI

from bot.llm import Failure, LLMClient, LLMError, classify

try:  # openai 3.x ships its own HTTP stack; 1.x and 2.x use httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]


def client(is_openai: bool) -> LLMClient:
    return LLMClient(
        AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1"),
        model="m",
        is_openai=is_openai,
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
