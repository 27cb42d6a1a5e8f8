"""The fake Discord and the fake OpenAI server in a process of their own, for bench/streaming.py,
so that the bot's event loop is measured alone: the fakes' work shows in this process, not in the
bot's. Both fakes listen on 127.0.0.1, with a small control API (aiohttp, JSON) beside them.

    python bench/fakes_host.py

prints one JSON line (the fakes' addresses, the control API's, the bot token), then serves until
its standard input closes (the benchmark ended, however it ended) or it gets SIGTERM or SIGINT.

Times: every time this process reports is its own ``time.monotonic()``: when it sent a user's
mention, when a model request arrived, when its first chunk and its [DONE] were sent, when each
Discord request arrived, when each bot message was posted or edited. The benchmark only
subtracts these from one another, so each measure is an interval within this one process; it
never compares them with a clock of its own.

Control API, all ``POST`` with a JSON body (``{}`` if none) and a JSON answer:

``/world``     ``{"guilds": 5, "channels": 8, "members": 10}``: add guilds, each with that many
               text channels and members (before the bot connects); answers their ids.
``/channel``   ``{"guild": id, "name": ...}``: one more text channel; answers its id.
``/script``    ``{"text", "chunk_size", "delay"}``: what the fake model answers every request.
``/respond``   ``{"scripts": [{"text", "chunk_size", "delay", "tool_calls": [[id, name,
               arguments], ...]}, ...]}``: answers for the next requests, in order, before the
               ``/script`` one (bench/tool_loop.py).
``/say``       ``{"mentions": [[channel, member, content], ...], "over": seconds}``: members post
               those messages, mentioning the bot, spread evenly over ``over`` seconds (0: one
               after another at once); answers when all are sent, with each message's id (the id
               of the thread the bot opens on it), channel and time sent.
``/reset``     forget the recorded Discord requests, the 429 counts, the model requests and this
               process's event-loop lag samples (the world and its messages stay).
``/progress``  ``{"channels": [...]}``: how many of those channels show a finished bot reply
               (some bot message, none with a Stop button).
``/results``   ``{"channels": [...]}``: the bot's messages in those channels (content, whether
               still streaming, when posted, when last changed); every Discord request since the
               reset (method, route with ids as ``#``, time, status, counted against the global
               limit, path); the 429 counts; the most requests in any one second (``peak_requests``);
               the model requests (last message's content, the contents of the tool results
               that end its messages, arrival, first chunk, last delta, [DONE]); the
               p99 lag of this process's event loop, and its CPU time since the reset.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.discord_payloads import FakeUser
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.serving import serve


class LagMonitor:
    """How late a 10 ms sleep wakes up: the event loop's responsiveness."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.woke: list[float] = []  # when each sample's sleep ended (time.monotonic())
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append(time.perf_counter() - started - 0.01)
            self.woke.append(time.monotonic())

    def start(self) -> LagMonitor:
        self._task = asyncio.create_task(self._run())
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def __enter__(self) -> LagMonitor:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def max_ms(self) -> float:
        return max(self.lags, default=0.0) * 1000

    def p99_ms(self) -> float:
        if len(self.lags) < 2:
            return self.lags[0] * 1000 if self.lags else 0.0
        return statistics.quantiles(self.lags, n=100)[98] * 1000


def streaming(message: dict[str, Any]) -> bool:
    """A reply still being written: it has the Stop button (a finished one may have others)."""
    buttons = [c for row in message.get("components") or [] for c in row["components"]]
    return any(b.get("custom_id", "").startswith("stop:") for b in buttons)


def _tool_results(body: dict[str, Any]) -> list[str]:
    """The contents of the tool messages that end a request (a round's results)."""
    results: list[str] = []
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "tool":
            break
        results.insert(0, message.get("content") or "")
    return results


def _last_content(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"] if body.get("messages") else ""
    if isinstance(content, list):  # parts: keep the text
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


class Host:
    ENDPOINTS = ("world", "channel", "script", "respond", "say", "reset", "progress", "results",
                 "connected")  # fmt: skip

    def __init__(self) -> None:
        self.discord = FakeDiscord()
        self.openai = FakeOpenAI()
        self.users: dict[int, FakeUser] = {}
        self.lag = LagMonitor()
        self.cpu = time.process_time()  # at the last reset

    async def start(self) -> dict[str, Any]:
        await self.discord.start()
        await self.openai.start()
        app = web.Application(client_max_size=64 * 1024**2)
        for name in self.ENDPOINTS:
            app.router.add_post(f"/{name}", self._handler(getattr(self, name)))
        self._runner, port = await serve(app)
        self.lag.start()
        return {
            "api_base": self.discord.api_base,
            "gateway_url": self.discord.gateway_url,
            "openai_base_url": self.openai.base_url,
            "token": self.discord.token,
            "control": f"http://127.0.0.1:{port}",
        }

    async def stop(self) -> None:
        self.lag.stop()
        await self._runner.cleanup()
        await self.openai.stop()
        await self.discord.stop()

    @staticmethod
    def _handler(method):
        async def handle(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else {}
            return web.json_response(await method(**body))

        return handle

    # -- the world ------------------------------------------------------------------------------

    async def world(self, guilds: int, channels: int, members: int) -> dict[str, Any]:
        made = []
        for g in range(guilds):
            guild = self.discord.add_guild(f"Guild {g}")
            users = [self.discord.add_member(guild, f"user{g}-{m}") for m in range(members)]
            self.users.update((u.id, u) for u in users)
            made.append({
                "id": guild.id,
                "channels": [self.discord.add_channel(guild, f"c{g}-{c}") for c in range(channels)],
                "members": [u.id for u in users],
            })  # fmt: skip
        return {"guilds": made}

    async def connected(self) -> dict[str, int]:
        """Gateway sessions (shards) identified, and how many bots asked who they are."""
        asked = sum(1 for r in self.discord.requests if r.path == "/users/@me")
        return {"shards": len(self.discord._shards), "logins": asked}

    async def channel(self, guild: int, name: str) -> int:
        return self.discord.add_channel(self.discord.guilds[guild], name)

    async def script(self, text: str, chunk_size: int, delay: float) -> None:
        self.openai.default = Script(text=text, chunk_size=chunk_size, delay=delay)

    async def respond(self, scripts: list[dict[str, Any]]) -> None:
        self.openai.respond(*(
            Script(**{**s, "tool_calls": [tuple(c) for c in s.get("tool_calls", [])]})
            for s in scripts
        ))  # fmt: skip

    async def say(self, mentions: list[list[Any]], over: float = 0.0) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        start, step = loop.time(), over / max(1, len(mentions))
        sent = []
        for i, (channel, member, content) in enumerate(mentions):
            if over:
                await asyncio.sleep(max(0.0, start + i * step - loop.time()))
            at = time.monotonic()
            message = await self.discord.user_says(
                channel, self.users[member], content, mention_bot=True
            )
            sent.append({"id": int(message["id"]), "channel": channel, "at": at})
        return sent

    # -- results --------------------------------------------------------------------------------

    async def reset(self) -> None:
        discord, openai = self.discord, self.openai
        discord.requests.clear()
        discord.global_429s = discord.edit_429s = discord.all_429s = 0
        openai.requests.clear()
        openai.request_headers.clear()
        for times in (
            openai.arrived_at,
            openai.first_chunk_at,
            openai.last_delta_at,
            openai.done_at,
        ):
            times.clear()
        self.lag.lags.clear()
        self.lag.woke.clear()
        self.cpu = time.process_time()

    async def progress(self, channels: list[int]) -> int:
        done = 0
        for channel in channels:
            messages = self.discord.bot_messages(channel)
            done += bool(messages) and not any(streaming(m) for m in messages)
        return done

    async def results(self, channels: list[int]) -> dict[str, Any]:
        discord, openai = self.discord, self.openai
        messages = {
            str(channel): [
                {
                    "id": int(m["id"]),
                    "content": m["content"],
                    "streaming": streaming(m),
                    "created_at": m["created_at"],
                    "changed_at": discord.changed_at[int(m["id"])][-1],
                }
                for m in discord.bot_messages(channel)
            ]
            for channel in channels
        }
        requests = [
            [r.method, re.sub(r"\d{5,}", "#", r.path), r.at, r.status, r.counted, r.path]
            for r in discord.requests
        ]
        model = [
            {
                "content": _last_content(body),
                "tool_results": _tool_results(body),
                "stream": bool(body.get("stream")),
                "arrived": openai.arrived_at.get(i),
                "first_chunk": openai.first_chunk_at.get(i),
                "last_delta": openai.last_delta_at.get(i),
                "done": openai.done_at.get(i),
            }
            for i, body in enumerate(openai.requests)
        ]
        return {
            "messages": messages,
            "requests": requests,
            "global_429s": discord.global_429s,
            "edit_429s": discord.edit_429s,
            "all_429s": discord.all_429s,
            "peak_requests": discord.peak_requests(),
            "model": model,
            "lag_p99_ms": self.lag.p99_ms(),
            "cpu": time.process_time() - self.cpu,
        }


async def main(host: Host | None = None) -> None:
    """Serve ``host`` (a plain :class:`Host` by default) until standard input closes."""
    host = host or Host()
    addresses = await host.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    stdin = sys.stdin.fileno()

    def read_stdin() -> None:
        if not os.read(stdin, 4096):  # end of file: the benchmark has gone
            loop.remove_reader(stdin)
            stop.set()

    loop.add_reader(stdin, read_stdin)
    print(json.dumps(addresses), flush=True)
    await stop.wait()
    await host.stop()


class HostProcess:
    """A fakes host as a child process (``python *argv``), and calls to its control API. The
    benchmarks' one way to start, use and stop it."""

    def __init__(self, *argv: str) -> None:
        self.argv = argv or (__file__,)
        self.addresses: dict[str, str] = {}

    async def __aenter__(self) -> HostProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        self.addresses = json.loads(line)
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.session.close()
        assert self.process.stdin is not None
        self.process.stdin.close()  # the host stops when its input ends
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def call(self, endpoint: str, **body: Any) -> Any:
        url = f"{self.addresses['control']}/{endpoint}"
        async with self.session.post(url, json=body) as response:
            response.raise_for_status()
            return await response.json()


if __name__ == "__main__":
    asyncio.run(main())
