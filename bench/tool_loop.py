"""Benchmark: the tool loop's own overhead, the real bot against the fake Discord and OpenAI
servers and a real MCP server (the SDK test server of ``tests/fakes/mcp_server.py``, its
``stamp`` tool), over stdio and over Streamable HTTP.

    python bench/tool_loop.py [--replies 40]

Each reply is one mention answered in its own thread, one after another: the model first asks
for one call of ``stamp`` (or two at once, in the ``two calls`` rows), its arguments streamed in
pieces as OpenAI streams them; the tool answers with its process's ``time.monotonic()``; the
model then answers in text. Two intervals per call, both between clocks of different processes
(``time.monotonic()`` is CLOCK_MONOTONIC, one clock for the whole machine on Linux):

* **last argument → tool**: from the fake OpenAI writing the round's last delta (the last piece
  of the last call's arguments; the finish chunk and ``[DONE]`` follow at once) to the MCP server
  running the tool: reading the rest of the stream, assembling the calls, showing their lines,
  the MCP request and the server's own dispatch;
* **tool → next request**: from the tool running (it answers at once) to the fake OpenAI
  receiving the next model request: the MCP response, cutting and labelling the result, paying
  for the round and admitting the next against the limits (SQLite writes included), building and
  sending the request.

The fakes run in a process of their own (``bench/fakes_host.py``), so that their work (the fake
Discord taking the edits that show the calls, above all) is not timed as the bot's; the MCP
server in a third (stdio: the bot's child; http: uvicorn). A reply at a time; the model
limiter is off; SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import discord
import yarl
from discord.gateway import DiscordWebSocket

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fakes_host import HostProcess  # noqa: E402

from bot.app.runner import build_bot  # noqa: E402
from bot.core.settings import load_settings  # noqa: E402

STAMP = re.compile(r"stamp=(\d+\.\d+)")
# Seconds between streamed chunks, as a model writes them (100 a second): without a pace, the
# whole response arrives at once and "last argument → tool" would time parsing all of it.
PACE = 0.01


class FakesHost(HostProcess):
    """``bench/fakes_host.py`` as a child process, and calls to its control API."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_for_port(port: int, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


async def run(
    host: FakesHost, transport: str, calls: int, replies: int, folder: Path
) -> list[tuple[float, float]]:
    """``replies`` replies of ``calls`` calls each; (last argument → tool, tool → next request)
    in seconds, one pair per call."""
    made = await host.call("world", guilds=1, channels=1, members=1)
    (guild,) = made["guilds"]
    channel, member = guild["channels"][0], guild["members"][0]
    server = None
    if transport == "stdio":
        entry = {"command": sys.executable, "args": ["-m", "tests.fakes.mcp_server"],
                 "cwd": str(ROOT), "confirm": "never"}  # fmt: skip
    else:
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fakes.mcp_server", "--http", str(port), cwd=ROOT
        )
        await wait_for_port(port)
        entry = {"url": f"http://127.0.0.1:{port}/mcp", "confirm": "never"}
    config = folder / f"mcp-{transport}-{calls}.json"
    config.write_text(json.dumps({"mcpServers": {"fake": entry}}))
    addresses = host.addresses
    discord.http.Route.BASE = addresses["api_base"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(addresses["gateway_url"])
    settings = load_settings({
        "DISCORD_TOKEN": addresses["token"], "OPENAI_BASE_URL": addresses["openai_base_url"],
        "OPENAI_API_KEY": "sk-bench",
        "DATABASE_URL": f"sqlite:///{folder / f'{transport}-{calls}.sqlite3'}",
        "MCP_CONFIG": str(config), "GUILD_RPM": "0", "GUILD_TPM": "0", "USER_RPM": "0",
        "CHANNEL_HISTORY_TOOL": "false", "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    bot = build_bot(settings, guild_ready_timeout=0.05)
    running = asyncio.create_task(bot.start(settings.discord_token))
    pairs: list[tuple[float, float]] = []
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        for number in range(replies + 1):  # the first warms up (vocabularies, connections)
            await host.call("reset")
            asked = [
                [f"c{number}_{i}", "fake__stamp", '{"why": "benchmark"}'] for i in range(calls)
            ]
            await host.call("respond", scripts=[
                {"text": "", "tool_calls": asked, "chunk_size": 6, "delay": PACE},
                {"text": "Done."},
            ])  # fmt: skip
            (said,) = await host.call("say", mentions=[[channel, member, "go"]])
            thread = said["id"]
            deadline = time.monotonic() + 30
            while not await host.call("progress", channels=[thread]):
                if time.monotonic() > deadline:
                    raise RuntimeError("a reply did not finish in 30 s")
                await asyncio.sleep(0.05)
            if number == 0:
                continue
            asking, answering = (await host.call("results", channels=[thread]))["model"][:2]
            for result in answering["tool_results"]:
                found = STAMP.search(result)
                assert found, f"no stamp in {result!r}"
                stamp = float(found.group(1))
                pairs.append((stamp - asking["last_delta"], answering["arrived"] - stamp))
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 10)
        if server is not None:
            server.terminate()
            await server.wait()
    return pairs


def row(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"| {name} | {statistics.median(ms):.1f} | {p90:.1f} | {ms[-1]:.1f} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=40, help="replies per row (default 40)")
    options = parser.parse_args()
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", tempfile.mkdtemp(prefix="tiktoken-"))
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("| calls, transport | median ms | p90 ms | max ms |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="tool-bench-") as folder:
        for transport in ("stdio", "http"):
            for calls in (1, 2):
                async with FakesHost() as host:
                    pairs = await run(host, transport, calls, options.replies, Path(folder))
                label = f"{calls} call{'s' if calls > 1 else ''}, {transport}"
                print(row(f"{label}: last argument → tool", [a for a, _ in pairs]))
                print(row(f"{label}: tool → next request", [b for _, b in pairs]))


if __name__ == "__main__":
    asyncio.run(main())
