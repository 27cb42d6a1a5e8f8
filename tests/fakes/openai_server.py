"""A fake OpenAI-compatible server: ``POST /v1/chat/completions``, streamed as Server-Sent Events.

Each request takes the next queued :class:`Script` (or the default one), which says what to answer:
text in chunks with delays, reasoning in any of the forms servers use, an OpenAI-style error, or a
connection that dies (or an error event) mid-stream or before the first chunk.
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
    error_body: dict[str, Any] | None = None  # answer `status` with this body, not OpenAI's shape
    headers: dict[str, str] = field(default_factory=dict)
    die_after: int | None = None  # chunks sent before the connection is dropped
    empty_stream: bool = False  # 200 and SSE headers, then the end (llama.cpp on an overflow)
    send_usage: bool = True  # a usage chunk when the request asks for it
    prompt_tokens: int = 11
    cached_tokens: int = 0
    gate: asyncio.Event | None = None  # hold the stream after the first chunk until set
    finish_reason: str = "stop"
    first_gate: asyncio.Event | None = None  # hold the stream before the first chunk until set
    # Reasoning before the answer, as DeepSeek/llama.cpp (`reasoning_content` deltas), vLLM/Ollama/
    # OpenRouter (`reasoning` deltas) or older servers (`think`: a <think> block in the content).
    reasoning: str = ""
    reasoning_as: Literal["reasoning_content", "reasoning", "think"] = "reasoning_content"
    pieces: list[str] | None = None  # the exact content chunks (tags and all), not chunk_size's
    reasoning_tokens: int | None = None  # reported in usage.completion_tokens_details
    error_event_after: int | None = None  # chunks sent before an error event ends the stream
    # Calls the model makes, streamed as OpenAI does: (id, function name, arguments JSON), each
    # call's id and name in its first piece, its arguments split by chunk_size, one after another.
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def content(self) -> str:
        """The content as the model writes it, reasoning inline in the `think` form."""
        if self.pieces is not None:
            return "".join(self.pieces)
        if self.reasoning and self.reasoning_as == "think":
            return f"<think>{self.reasoning}</think>{self.text}"
        return self.text

    def deltas(self) -> list[dict[str, Any]]:
        """The streamed deltas in order (die_after and error_event_after count them)."""
        deltas: list[dict[str, Any]] = []
        if self.reasoning and self.reasoning_as != "think":
            deltas += [
                {self.reasoning_as: piece, "content": None}
                for piece in _split(self.reasoning, self.chunk_size)
            ]
        content = self.pieces if self.pieces is not None else _split(self.content, self.chunk_size)
        deltas += [{"content": piece} for piece in content]
        for index, (call_id, name, arguments) in enumerate(self.tool_calls):
            first = {"index": index, "id": call_id, "type": "function",
                     "function": {"name": name, "arguments": ""}}  # fmt: skip
            deltas.append({"content": None, "tool_calls": [first]})
            deltas += [
                {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                for piece in _split(arguments, self.chunk_size)
            ]
        if deltas:
            deltas[0] = {"role": "assistant", **deltas[0]}
        return deltas


# What the fake speaks: real speech (espeak-ng, as OGG/Opus), 2.0 s.
SPEECH = Path(__file__).resolve().parent / "audio" / "what-time.ogg"


@dataclass
class FakeOpenAI:
    default: Script = field(default_factory=Script)
    non_streamed: Script | None = None  # answers every non-streamed request (summaries) if set
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_headers: list[dict[str, str]] = field(default_factory=list)
    # For benchmarks, by request index, in time.monotonic(): when the request arrived, when its
    # first chunk, its last delta (a tool call's last argument piece) and its [DONE] were sent.
    arrived_at: dict[int, float] = field(default_factory=dict)
    first_chunk_at: dict[int, float] = field(default_factory=dict)
    last_delta_at: dict[int, float] = field(default_factory=dict)
    done_at: dict[int, float] = field(default_factory=dict)
    models: list[str] | None = None  # what GET /models lists (None: no such route)
    # POST /audio/transcriptions: what each upload held (model, filename, content type, bytes,
    # and its length in seconds, decoded here with PyAV: None if it did not decode), and the
    # answers, in order (a str is the transcript; an int, an error status).
    transcriptions: list[dict[str, Any]] = field(default_factory=list)
    transcripts: collections.deque[str | int] = field(default_factory=collections.deque)
    heard_language: str = "english"  # what verbose_json names (as whisper-1 does)
    verbose_json: bool = True  # False: refuse it with a 400, as gpt-4o-transcribe does
    # POST /audio/speech: each request's body, and what it answers (real speech unless set;
    # an int is an error status).
    spoken: list[dict[str, Any]] = field(default_factory=list)
    speech: collections.deque[bytes | int] = field(default_factory=collections.deque)
    hung_up: int = 0  # streams whose client closed the connection before their end

    def __post_init__(self) -> None:
        self._scripts: collections.deque[Script] = collections.deque()
        self._runner: web.AppRunner | None = None
        self.held: list[Script] = []
        self._changed = asyncio.Condition()
        self.hang_up = asyncio.Event()  # set when a client first closes a stream before its end
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
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/v1/audio/speech", self._speak)
        self._runner, self.port = await serve(app)

    async def stop(self) -> None:
        for script in (*self._scripts, *self.held):
            for gate in (script.first_gate, script.gate):
                if gate is not None:
                    gate.set()  # release held streams so the server can shut down
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)
        return self.requests

    async def _models(self, request: web.Request) -> web.Response:
        """``GET /models``, when ``models`` is set (some servers have no such route)."""
        if self.models is None:
            return web.json_response({"error": {"message": "not found"}}, status=404)
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "fake"}
                for name in self.models]  # fmt: skip
        return web.json_response({"object": "list", "data": data})

    async def _transcribe(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        data = upload.file.read()
        self.transcriptions.append({
            "model": form.get("model"), "filename": upload.filename,
            "content_type": upload.content_type, "bytes": len(data), "seconds": _decoded(data),
            "response_format": form.get("response_format"),
        })  # fmt: skip
        verbose = form.get("response_format") == "verbose_json"
        if verbose and not self.verbose_json:
            message = "response_format 'verbose_json' is not compatible with this model"
            return web.json_response(
                {"error": {"message": message, "type": "invalid_request_error"}}, status=400
            )
        answer = self.transcripts.popleft() if self.transcripts else "Hello from a recording."
        if isinstance(answer, int):
            return web.json_response(
                {"error": {"message": "speech refused", "type": "invalid_request_error"}},
                status=answer,
            )
        if verbose:
            seconds = self.transcriptions[-1]["seconds"] or 0.0
            return web.json_response(
                {"task": "transcribe", "language": self.heard_language, "duration": seconds,
                 "text": answer, "segments": []}
            )  # fmt: skip
        return web.json_response({"text": answer})

    async def _speak(self, request: web.Request) -> web.Response:
        self.spoken.append(await request.json())
        answer = self.speech.popleft() if self.speech else SPEECH.read_bytes()
        if isinstance(answer, int):
            return web.json_response({"error": {"message": "no"}}, status=answer)
        return web.Response(body=answer, content_type="audio/ogg")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.json()
        if not body.get("stream") and self.non_streamed is not None:
            script = self.non_streamed
        else:
            script = self._scripts.popleft() if self._scripts else self.default
        self.requests.append(body)
        self.request_headers.append(dict(request.headers))
        self.arrived_at[len(self.requests) - 1] = arrived
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
        if script.empty_stream:
            await response.write_eof()
            return response
        if script.first_gate is not None:  # a slow first token
            self.held.append(script)
            await script.first_gate.wait()
        for number, delta in enumerate(script.deltas()):
            if script.die_after is not None and number >= script.die_after:
                assert request.transport is not None
                request.transport.close()  # the connection dies mid-stream
                return response
            if script.error_event_after is not None and number >= script.error_event_after:
                await _event(response, _error_body(script))  # as OpenAI reports a failed stream
                await response.write_eof()
                return response
            if script.delay:
                await asyncio.sleep(script.delay)
            try:
                await _event(response, _chunk(body, delta))
            except ConnectionResetError:  # aiohttp's ClientConnectionResetError too
                self.hung_up += 1
                self.hang_up.set()
                return response
            if number == 0:
                self.first_chunk_at[index] = time.monotonic()
            if number == 0 and script.gate is not None:
                self.held.append(script)
                await script.gate.wait()
            self.last_delta_at[index] = time.monotonic()
        finish = "tool_calls" if script.tool_calls and script.finish_reason == "stop" else None
        await _event(response, _chunk(body, {}, finish_reason=finish or script.finish_reason))
        if script.send_usage and (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = _chunk(body, None)
            usage_chunk["usage"] = _usage(script)
            await _event(response, usage_chunk)
        await response.write(b"data: [DONE]\n\n")
        self.done_at[index] = time.monotonic()
        await response.write_eof()
        return response


async def _event(response: web.StreamResponse, data: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(data)}\n\n".encode())


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _usage(script: Script) -> dict[str, Any]:
    completion = max(1, len(script.text) // 4) + (script.reasoning_tokens or 0)
    usage: dict[str, Any] = {
        "prompt_tokens": script.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": script.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": script.cached_tokens},
    }
    if script.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": script.reasoning_tokens}
    return usage


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
    message: dict[str, Any] = {"role": "assistant", "content": script.content}
    if script.reasoning and script.reasoning_as != "think":
        message[script.reasoning_as] = script.reasoning
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(script),
    }


def _error_body(script: Script) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests"}
    return {
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


def _error(script: Script) -> web.Response:
    body = script.error_body if script.error_body is not None else _error_body(script)
    return web.json_response(body, status=script.status or 500, headers=script.headers)


def _decoded(data: bytes) -> float | None:
    """The recording's length, by decoding all of it (a real check that it is audio)."""
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            return sum(f.samples / f.sample_rate for f in container.decode(audio=0)) or None
    except av.FFmpegError:
        return None
