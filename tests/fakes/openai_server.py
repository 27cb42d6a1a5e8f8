"""A fake OpenAI-compatible server: ``POST /v1/chat/completions``, streamed as Server-Sent Events.

Each request takes the next queued :class:`Script` (or the default one), which says what to answer:
text in chunks with delays, an OpenAI-style error, or a connection that dies mid-stream.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .serving import serve


@dataclass
class Script:
    text: str = "Hello from the fake model."
    chunk_size: int = 8  # characters per streamed chunk
    delay: float = 0.0  # seconds before each chunk
    status: int | None = None  # answer with this error status instead
    error_code: str | None = None  # e.g. rate_limit_exceeded, insufficient_quota
    error_message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    die_after: int | None = None  # chunks sent before the connection is dropped
    send_usage: bool = True  # a usage chunk when the request asks for it
    prompt_tokens: int = 11
    cached_tokens: int = 0
    gate: asyncio.Event | None = None  # hold the stream after the first chunk until set
    first_gate: asyncio.Event | None = None  # hold it before the first chunk (a slow first token)
    finish_reason: str = "stop"


@dataclass
class FakeOpenAI:
    default: Script = field(default_factory=Script)
    non_streamed: Script | None = None  # answers every non-streamed request (summaries) if set
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_headers: list[dict[str, str]] = field(default_factory=list)
    first_chunk_at: dict[int, float] = field(default_factory=dict)  # request index -> monotonic

    def __post_init__(self) -> None:
        self._scripts: collections.deque[Script] = collections.deque()
        self._runner: web.AppRunner | None = None
        self.held: list[Script] = []
        self._changed = asyncio.Condition()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def respond(self, *scripts: Script) -> None:
        """Queue answers for the next requests, in order."""
        self._scripts.extend(scripts)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner, self.port = await serve(app)

    async def stop(self) -> None:
        for script in (*self._scripts, *self.held):
            for gate in (script.gate, script.first_gate):
                if gate is not None:
                    gate.set()  # release held streams so the server can shut down
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)
        return self.requests

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream") and self.non_streamed is not None:
            script = self.non_streamed
        else:
            script = self._scripts.popleft() if self._scripts else self.default
        self.requests.append(body)
        self.request_headers.append(dict(request.headers))
        async with self._changed:
            self._changed.notify_all()
        if script.status is not None:
            return _error(script)
        if not body.get("stream"):
            return web.json_response(_completion(body, script), headers=script.headers)
        return await self._stream(request, body, script, len(self.requests) - 1)

    async def _stream(self, request: web.Request, body: dict[str, Any], script: Script, index: int):
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                **script.headers,
            }
        )
        await response.prepare(request)
        if script.first_gate is not None:
            self.held.append(script)
            await script.first_gate.wait()
        pieces = [
            script.text[i : i + script.chunk_size]
            for i in range(0, len(script.text), script.chunk_size)
        ]
        for number, piece in enumerate(pieces):
            if script.die_after is not None and number >= script.die_after:
                assert request.transport is not None
                request.transport.close()  # the connection dies mid-stream
                return response
            if script.delay:
                await asyncio.sleep(script.delay)
            delta = {"content": piece} if number else {"role": "assistant", "content": piece}
            await _event(response, _chunk(body, delta))
            if number == 0:
                self.first_chunk_at[index] = time.monotonic()
            if number == 0 and script.gate is not None:
                self.held.append(script)
                await script.gate.wait()
        await _event(response, _chunk(body, {}, finish_reason=script.finish_reason))
        if script.send_usage and (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = _chunk(body, None)
            usage_chunk["usage"] = _usage(script)
            await _event(response, usage_chunk)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


async def _event(response: web.StreamResponse, data: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(data)}\n\n".encode())


def _usage(script: Script) -> dict[str, Any]:
    completion = max(1, len(script.text) // 4)
    return {
        "prompt_tokens": script.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": script.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": script.cached_tokens},
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any] | None, finish_reason: str | None = None):
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    )
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": choices,
        "usage": None,
    }


def _completion(body: dict[str, Any], script: Script) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": script.text},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(script),
    }


def _error(script: Script) -> web.Response:
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests"}
    body = {
        "error": {
            "message": script.error_message
            or f"fake error {script.status} {script.error_code or ''}".strip(),
            "type": "insufficient_quota"
            if script.error_code == "insufficient_quota"
            else kinds.get(script.status or 0, "server_error"),
            "param": None,
            "code": script.error_code,
        }
    }
    return web.json_response(body, status=script.status or 500, headers=script.headers)
