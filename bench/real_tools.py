"""One reply of the real bot with tools, against a real OpenAI-compatible server (not a fake),
through the fake Discord, with ``mcp-server-time`` as its MCP server. Not a test: a check done by
hand, offline, whose findings go to docs/compatibility.md ("Tools against a real server").

    python -m llama_cpp.server --model SmolLM2-135M-Instruct.Q4_1.gguf --model_alias smollm2 \\
        --chat_format chatml-function-calling --n_ctx 4096 --host 127.0.0.1 --port 8089 &
    python bench/real_tools.py --server http://127.0.0.1:8089/v1 --model smollm2 \\
        --force-tool time__get_current_time

Between the bot and the server sits a small recording proxy (127.0.0.1, a free port): it logs
every request the bot sends (its roles, the tools offered, ``tool_choice``, the last messages)
and what came back (status, chunks, the text, the tool-call deltas as they arrived, the finish
reason). With ``--force-tool NAME`` it names that function in ``tool_choice`` on the first round
of each reply (a request that offers tools, has no ``tool_choice`` and ends with the user's
turn), and with ``--tool-choice auto`` (or any JSON value) it sets that instead; every other
request goes through as the bot sent it. The bot's own settings are its defaults, but for
``CHANNEL_HISTORY_TOOL=false`` (only the time tools are offered), ``CONTEXT_TOKENS`` and
``MAX_COMPLETION_TOKENS``; SQLite in a temporary folder.

Prints every text the bot showed in the thread (posts and edits, in order), its messages at the
end with their buttons, the calls it stored, and the requests it sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import discord
import yarl
from aiohttp import ClientSession, ClientTimeout, web
from discord.gateway import DiscordWebSocket

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app.runner import build_bot  # noqa: E402
from bot.core.settings import load_settings  # noqa: E402
from tests.fakes.discord_server import FakeDiscord  # noqa: E402

QUESTION = "What time is it in Tokyo? Use the tool."


def summary_of_stream(raw: bytes) -> dict[str, Any]:
    """What a streamed answer held: its chunks, text, tool-call deltas and finish reason."""
    chunks, text, deltas, finish, other = 0, "", [], None, []
    for line in raw.decode(errors="replace").splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            other.append(data[:200])
            continue
        chunks += 1
        for choice in chunk.get("choices") or ():
            finish = choice.get("finish_reason") or finish
            delta = choice.get("delta") or {}
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                deltas.append(
                    [
                        call.get("index"),
                        call.get("id"),
                        function.get("name"),
                        function.get("arguments"),
                    ]
                )
        if "error" in chunk:
            other.append(json.dumps(chunk)[:300])
    return {"chunks": chunks, "text": text, "tool_call_deltas": deltas, "finish_reason": finish,
            "other": other}  # fmt: skip


class Proxy:
    """Passes requests to ``upstream``, logging them and (optionally) setting ``tool_choice``."""

    def __init__(self, upstream: str, force: Any) -> None:
        self.upstream = upstream.rstrip("/")
        self.force = force
        self.log: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        entry: dict[str, Any] = {"method": request.method, "path": request.path_qs}
        if request.method == "POST" and body:
            data = json.loads(body)
            messages = data.get("messages") or []
            if (
                self.force is not None
                and data.get("tools")
                and "tool_choice" not in data
                and messages
                and messages[-1].get("role") == "user"
            ):
                data["tool_choice"] = self.force
                entry["tool_choice_set_by_proxy"] = True
            entry |= {
                "stream": data.get("stream"),
                "roles": [m.get("role") for m in messages],
                "tools": [t["function"]["name"] for t in data.get("tools") or ()],
                "tool_choice": data.get("tool_choice"),
                "max_tokens": data.get("max_tokens", data.get("max_completion_tokens")),
                "from_the_second_turn": messages[1:] if len(messages) > 2 else None,
            }
            body = json.dumps(data).encode()
        started = time.monotonic()
        headers = {"Content-Type": "application/json"}
        async with (
            ClientSession(timeout=ClientTimeout(total=300)) as session,
            session.request(request.method, self.upstream + request.path_qs,
                            data=body or None, headers=headers) as upstream,
        ):  # fmt: skip
            response = web.StreamResponse(
                status=upstream.status,
                headers={"Content-Type": upstream.headers.get("Content-Type", "application/json")},
            )
            await response.prepare(request)
            raw = b""
            async for piece in upstream.content.iter_any():
                raw += piece
                await response.write(piece)
            await response.write_eof()
        entry |= {"status": upstream.status, "bytes": len(raw),
                  "seconds": round(time.monotonic() - started, 2)}  # fmt: skip
        if b"data:" in raw:
            entry["answer"] = summary_of_stream(raw)
        else:
            entry["answer_body"] = raw[:1500].decode(errors="replace")
        self.log.append(entry)
        return response


def streaming(message: dict[str, Any]) -> bool:
    return any(
        c.get("custom_id", "").startswith("stop:")
        for row in message.get("components") or ()
        for c in row.get("components") or ()
    )


async def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", tempfile.mkdtemp(prefix="tiktoken-"))
    force = None
    if args.force_tool:
        force = {"type": "function", "function": {"name": args.force_tool}}
    elif args.tool_choice:
        force = json.loads(args.tool_choice) if args.tool_choice[0] in '{"' else args.tool_choice
    proxy = Proxy(str(yarl.URL(args.server).origin()), force)  # paths pass through as they are
    await proxy.start()
    fake = FakeDiscord()
    await fake.start()
    discord.http.Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    guild = fake.add_guild("Real")
    channel = fake.add_channel(guild, "general")
    alice = fake.add_member(guild, "alice")
    folder = tempfile.mkdtemp(prefix="real-tools-")
    config = Path(folder) / "mcp.json"
    time_server = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
    config.write_text(
        json.dumps({"mcpServers": {"time": {"command": time_server[0], "args": time_server[1:]}}})
    )
    env = {
        "DISCORD_TOKEN": fake.token,
        "OPENAI_BASE_URL": proxy.base_url + yarl.URL(args.server).path.rstrip("/"),
        "OPENAI_API_KEY": "none",
        "OPENAI_MODEL": args.model,
        "CONTEXT_TOKENS": str(args.context_tokens),
        "MAX_COMPLETION_TOKENS": str(args.max_tokens),
        "DATABASE_URL": f"sqlite:///{folder}/bot.sqlite3",
        "MCP_CONFIG": str(config),
        "CHANNEL_HISTORY_TOOL": "false",
    }
    bot = build_bot(load_settings(env), guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(env["DISCORD_TOKEN"]))
    status = 0
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 60)
        started = time.monotonic()
        message = await fake.user_says(channel, alice, args.question, mention_bot=True)
        thread = int(message["id"])

        def finished() -> bool:
            shown = fake.bot_messages(thread)
            return bool(shown) and not any(streaming(m) for m in shown)

        try:
            await fake.wait_for(finished, timeout=args.timeout)
        except TimeoutError:
            print(f"!!! no finished reply within {args.timeout} s")
            status = 1
        print(f"=== reply finished in {time.monotonic() - started:.1f} s")
        print("=== every text shown in the thread (posts and edits), in order:")
        for r in fake.requests:
            body = r.body
            in_thread = r.path.startswith(f"/channels/{thread}/messages")
            if in_thread and isinstance(body, dict) and "content" in body:
                print(f"  {r.method} {r.status}: {body['content']!r}")
        print("=== the thread at the end:")
        for m in fake.bot_messages(thread):
            buttons = [c.get("label") or c.get("custom_id") for row in m["components"]
                       for c in row["components"]]  # fmt: skip
            print(f"  {m['content']!r}\n    buttons: {buttons}")
        print("=== stored calls:")
        for turn in await bot.services.store.newest_turns(thread, limit=10):
            if turn.role == "assistant":
                exchange = await bot.core.conversations.tool_calls(turn.seq)
                print(f"  turn {turn.seq}: {exchange.to_json() if exchange else None}")
        print("=== requests the bot sent (through the proxy):")
        for entry in proxy.log:
            print("  " + json.dumps(entry, ensure_ascii=False))
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        await fake.stop()
        await proxy.stop()
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="the server's base URL, e.g. .../v1")
    parser.add_argument("--model", default="local")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--force-tool", help="name this function in tool_choice, first rounds")
    parser.add_argument("--tool-choice", help='set tool_choice on first rounds: auto, "required"…')
    parser.add_argument("--context-tokens", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=300.0)
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
