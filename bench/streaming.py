"""Benchmark: streamed replies through the fake Discord and the fake OpenAI server.

Two scenarios, both with realistic token streams (~300 tokens of ~4 characters, 15 ms apart):
  * one channel: 20 replies streaming into the same channel at once (the pacer's hardest case:
    they share Discord's per-channel edit limit), driven through the bot's own ReplyStreamer;
  * spread: 200 mentions at once, each answered in its own thread by the real bot.

Reported: Discord 429s, edits per second per stream, the delay from the model's first token
to the first visible text, event-loop lag (p99), and wall time. Everything (bot and both fakes)
shares one event loop here, so the lag and latency include the fakes' own work.

    python bench/streaming.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.llm import Reply
from bot.replies import Display
from bot.runner import build_bot
from bot.settings import load_settings
from cogs.chat.surface import DiscordSurface
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Script

TOKENS = 300
TEXT = "".join(f"w{i:02d} " for i in range(TOKENS))  # ~4 characters a token
SCRIPT = Script(text=TEXT, chunk_size=4, delay=0.015)


class LagMonitor:
    """Measures how late a 10 ms sleep wakes up: the event loop's responsiveness."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append(time.perf_counter() - started - 0.01)

    def __enter__(self) -> LagMonitor:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def p99_ms(self) -> float:
        return statistics.quantiles(self.lags, n=100)[98] * 1000


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def stream_stats(fake_discord: FakeDiscord, messages: list[dict]) -> list[float]:
    """Edits per second of each reply's first message, from its post to its last edit."""
    rates = []
    for message in messages:
        edits = [
            r.at
            for r in fake_discord.requests
            if r.method == "PATCH" and r.path.endswith(message["id"])
        ]
        if edits:
            rates.append(len(edits) / max(0.001, edits[-1] - message["created_at"]))
    return rates


def report(name: str, fake_discord, rates, latencies, lag, wall) -> None:
    print(f"\n{name}")
    print(f"  Discord 429s                 {fake_discord.all_429s}")
    print(
        f"  edits/s per stream           median {statistics.median(rates):.2f}, min {min(rates):.2f}"
    )
    print(
        f"  first token -> visible text  median {statistics.median(latencies):.0f} ms, p95 {pct(latencies, 95):.0f} ms"
    )
    print(f"  event-loop lag               p99 {lag.p99_ms():.1f} ms")
    print(f"  wall time                    {wall:.1f} s")


async def one_channel(bot, fake_discord, fake_openai, channel_id: int, streams: int = 20) -> None:
    channel = bot.get_channel(channel_id)
    assert channel is not None
    fake_openai.default = SCRIPT
    streamers = [
        Display(DiscordSurface(bot, channel, channel_id), bot.pacer) for _ in range(streams)
    ]
    before = len(fake_openai.requests)

    async def one(i: int, streamer: Display) -> None:
        streamer.start()
        messages = [{"role": "user", "content": f"stream {i}"}]
        async for delta in bot.llm.stream(messages, max_tokens=500, reply=Reply()):
            streamer.feed(delta.text)
        await streamer.finish()

    started = time.monotonic()
    with LagMonitor() as lag:
        await asyncio.gather(*(one(i, s) for i, s in enumerate(streamers)))
    wall = time.monotonic() - started
    by_stream = {
        r["messages"][0]["content"]: i for i, r in enumerate(fake_openai.requests) if i >= before
    }
    latencies, firsts = [], []
    for i, streamer in enumerate(streamers):
        shown = {int(m["id"]): m for m in fake_discord.messages[channel_id]}
        first = shown[streamer.messages[0]]
        firsts.append(first)
        latencies.append(
            (first["created_at"] - fake_openai.first_chunk_at[by_stream[f"stream {i}"]]) * 1000
        )
        assert "".join(shown[m]["content"] for m in streamer.messages).replace(
            " ", ""
        ) == TEXT.replace(" ", "")
    report(
        f"{streams} stream(s) in one channel",
        fake_discord,
        stream_stats(fake_discord, firsts),
        latencies,
        lag,
        wall,
    )


async def spread(bot, fake_discord, fake_openai, world_channel, users, streams: int = 200) -> None:
    fake_openai.default = SCRIPT
    before = len(fake_openai.requests)
    started = time.monotonic()
    with LagMonitor() as lag:
        prompts = [
            await fake_discord.user_says(
                world_channel, users[i % len(users)], f"question {i}", mention_bot=True
            )
            for i in range(streams)
        ]

        def done() -> bool:
            return all(
                (ms := fake_discord.bot_messages(int(p["id"])))
                and not any(m["components"] for m in ms)
                for p in prompts
            )

        await fake_discord.wait_for(done, timeout=600)
    wall = time.monotonic() - started
    index_of = {
        r["messages"][-1]["content"]: i for i, r in enumerate(fake_openai.requests) if i >= before
    }
    latencies, firsts = [], []
    for n, prompt in enumerate(prompts):
        first = fake_discord.bot_messages(int(prompt["id"]))[0]
        firsts.append(first)
        latencies.append(
            (first["created_at"] - fake_openai.first_chunk_at[index_of[f"question {n}"]]) * 1000
        )
    report(
        f"{streams} streams, each in its own thread",
        fake_discord,
        stream_stats(fake_discord, firsts),
        latencies,
        lag,
        wall,
    )


async def main() -> None:
    fake_discord, fake_openai = FakeDiscord(), FakeOpenAI()
    await fake_discord.start()
    await fake_openai.start()
    discord.http.Route.BASE = fake_discord.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake_discord.gateway_url)
    guild = fake_discord.add_guild()
    channel = fake_discord.add_channel(guild)
    users = [fake_discord.add_member(guild, f"user{i}") for i in range(50)]
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings({
            "DISCORD_TOKEN": fake_discord.token, "OPENAI_BASE_URL": fake_openai.base_url,
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3", "GUILD_RPM": "0", "GUILD_TPM": "0",
            "USER_RPM": "0", "LOG_LEVEL": "WARNING",
        })  # fmt: skip
        bot = build_bot(settings, guild_ready_timeout=0.05)
        runner = asyncio.create_task(bot.start(settings.discord_token))
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        await one_channel(bot, fake_discord, fake_openai, channel, streams=1)
        await one_channel(bot, fake_discord, fake_openai, channel)
        fake_discord.all_429s = fake_discord.edit_429s = 0
        fake_discord.requests.clear()
        await spread(bot, fake_discord, fake_openai, channel, users)
        await bot.close()
        await runner
    await fake_openai.stop()
    await fake_discord.stop()


if __name__ == "__main__":
    asyncio.run(main())
