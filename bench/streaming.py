"""Benchmark: streamed replies under load, the real bot against the fake Discord and OpenAI server.

The fakes run in a process of their own (``bench/fakes_host.py``, started here), so the event-loop
lag measured here is the bot's alone. This process runs the bot exactly as ``python -m bot`` builds
it (``bot.app.runner.build_bot``), pointed at the fakes, on SQLite in a temporary folder (or
PostgreSQL, in a schema of its own, with ``--database-url``). The model limiter is off
(``GUILD_RPM``, ``GUILD_TPM``, ``USER_RPM`` = 0), so that only Discord's limits and the bot's REST
budget (``DISCORD_REST_RATE``, default 45) shape the traffic.

Replies are realistic streams: 300 tokens of 4 characters (1,199 characters, one Discord
message), one token a chunk, 15 ms apart (4.5 s). Scenarios (``--scenario NAME``, repeatable;
all of them by default, about 4 minutes):

  single        one mention: a thread is opened on it and the reply streams there;
  one-channel   20 replies streaming into one channel at once, through the bot's own Display and
                DiscordSurface (they share Discord's per-channel edit limit: the pacer's hardest
                case, which mentions never make, each being answered in a thread of its own; no
                mention, so no "mention → model request");
  channel-mentions  20 simultaneous mentions in one channel, each answered in a thread of its
                own (thread creation in one channel goes one by one);
  burst         200 simultaneous mentions over 40 channels in 5 guilds (8 channels each, 10
                people per guild), each answered in a thread of its own: the real mention path
                (thread creation, streaming, final edit);
  minute        1,000 mentions spread evenly over 60 s in the same world (one every 60 ms);
  minute-short  the same with replies of 100 tokens (1.5 s).

Reported per scenario:

* answered exactly: replies whose finished text (no Stop button left) equals the model's, with
  one model request per prompt;
* global 429s (Discord's 50-a-second limit) and per-channel 429s (its edit limit);
* mention → model request: from the fake Discord sending the mention to the fake model receiving
  the request for it;
* first token → first visible: from the model sending the first chunk to Discord getting the
  post that shows it;
* [DONE] → final text: from the model sending [DONE] to Discord getting the final edit (the
  whole text, no Stop button);
* busiest second: the most REST requests that reached the fake Discord in any one second
  (refused ones included; Discord allows 50);
* the bot's event-loop lag, p99 and max (how late a 10 ms sleep wakes up, in this process);
* the slowest reply: the longest from a mention to its final text (for one-channel, from the
  reply's first token);
* wall time, and the load average (1 min) when the scenario ended.

Clocks: every latency above is an interval between two events that the fakes' process sees,
both timed with its own ``time.monotonic()``; wall time, CPU time and loop lag are intervals
within this process. Nothing compares clocks across the two processes (the ``--dump`` files do
put this process's lag samples on its ``time.monotonic()``, which on Linux is the same clock as
the fakes', for reading a timeline, not for the table). Below the table, a line per scenario
gives the bot's CPU time, the fakes' own loop lag (if high, latencies include the fakes' delay),
how long the model streams took, and the Discord requests by kind.

    python bench/streaming.py [--scenario burst] [--database-url postgresql://...]
        [--dump FOLDER] [--chunk-size 4] [--delay 0.015] [--set DISCORD_REST_RATE=35]
        [--processes 2 --set REDIS_URL=redis://127.0.0.1:6379/0]  (shard processes)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.app.runner import build_bot
from bot.core.llm import Reply
from bot.core.replies import Display
from bot.core.settings import load_settings
from cogs.chat.surface import DiscordSurface

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fakes_host import HostProcess, LagMonitor  # noqa: E402


def text(tokens: int) -> str:
    """``tokens`` tokens of 4 characters ("t00 t01 ..."), as the fake model streams them."""
    return "".join(f"t{i % 100:02d} " for i in range(tokens)).rstrip()


TEXT = text(300)  # 1,199 characters: one Discord message
SHORT = text(100)
CHUNK, DELAY = 4, 0.015
GUILDS, CHANNELS, MEMBERS = 5, 8, 10  # 40 channels, 50 people


class FakesHost(HostProcess):
    """``bench/fakes_host.py`` as a child process, and calls to its control API."""


@dataclass
class Row:
    name: str
    total: int
    answered: int = 0
    global_429s: int = 0
    edit_429s: int = 0
    to_request: list[float] = field(default_factory=list)  # s
    to_visible: list[float] = field(default_factory=list)  # s
    to_final: list[float] = field(default_factory=list)  # s
    peak: int = 0
    lag_p99: float = 0.0  # ms
    lag_max: float = 0.0  # ms
    slowest: float | None = None  # s, the slowest reply from its mention to its final text
    wall: float = 0.0
    load: float = 0.0
    notes: list[str] = field(default_factory=list)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def spread(values: list[float], unit: str = "ms") -> str:
    """Median / p95 of values in seconds."""
    if not values:
        return "—"
    scale = 1000 if unit == "ms" else 1
    median = statistics.median(values) * scale
    p95 = (pct(values, 95) if len(values) > 1 else values[0]) * scale
    if unit == "ms":
        return f"{median:.0f} / {p95:.0f} ms"
    return f"{median:.2f} / {p95:.2f} s"


def seconds(values: list[float]) -> str:
    """In ms while small, else in s."""
    if values and (statistics.median(values) >= 1 or max(values) >= 10):
        return spread(values, "s")
    return spread(values)


def table(rows: list[Row]) -> str:
    head = (
        "| scenario | answered exactly | global 429s | per-channel 429s "
        "| mention → model request (median / p95) | first token → first visible (median / p95) "
        "| [DONE] → final text (median / p95) | busiest second | bot loop lag p99 / max "
        "| slowest reply, mention → final "
        "| wall | load |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        last = f"{r.slowest:.1f} s" if r.slowest is not None else "—"
        lines.append(
            f"| {r.name} | {r.answered} / {r.total} | {r.global_429s} | {r.edit_429s} "
            f"| {seconds(r.to_request)} | {seconds(r.to_visible)} | {seconds(r.to_final)} "
            f"| {r.peak} | {lag(r)} | {last} | {r.wall:.1f} s | {r.load:.1f} |"
        )
    return "\n".join(lines)


def lag(row: Row) -> str:
    if row.lag_p99 != row.lag_p99:  # NaN: the bot ran in processes of its own
        return "—"
    return f"{row.lag_p99:.0f} / {row.lag_max:.0f} ms"


def kinds(requests: list[list[Any]]) -> str:
    """Discord requests by kind, for the notes."""
    names = {
        ("POST", "/channels/#/messages/#/threads"): "threads",
        ("POST", "/channels/#/messages"): "posts",
        ("PATCH", "/channels/#/messages/#"): "edits",
        ("POST", "/channels/#/typing"): "typing",
    }
    counts = collections.Counter(names.get((m, route), f"{m} {route}") for m, route, *_ in requests)
    return ", ".join(f"{n} {k}" for k, n in counts.most_common())


class Timer:
    """Wall and CPU time of the bot over a block: this process's, or the bot processes' (by
    ``pids``, from /proc)."""

    def __init__(self, pids: list[int] | None = None) -> None:
        self.pids = pids

    def _cpu(self) -> float:
        if not self.pids:
            return time.process_time()
        ticks = 0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.monotonic(), self._cpu()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.monotonic() - self.wall, self._cpu() - self.cpu


def common(row: Row, results: dict[str, Any], lag: LagMonitor, timer: Timer) -> None:
    """What every scenario reports the same way."""
    row.global_429s, row.edit_429s = results["global_429s"], results["edit_429s"]
    row.peak = results["peak_requests"]
    if timer.pids:  # this process's loop is not the bot's
        row.lag_p99 = row.lag_max = float("nan")
    else:
        row.lag_p99, row.lag_max = lag.p99_ms(), lag.max_ms()
    row.wall, cpu = timer.wall, timer.cpu
    row.load = os.getloadavg()[0]
    streams = [m["done"] - m["first_chunk"] for m in results["model"] if m["done"] is not None]
    other_429s = results["all_429s"] - row.global_429s - row.edit_429s
    row.notes += [
        f"bot CPU {cpu:.1f} s in {row.wall:.1f} s",
        f"fakes' CPU {results['cpu']:.1f} s, loop lag p99 {results['lag_p99_ms']:.0f} ms",
        f"model streams (first chunk → [DONE]) median {statistics.median(streams):.2f} s"
        if streams
        else "no model stream finished",
        f"Discord requests: {len(results['requests'])} ({kinds(results['requests'])})",
    ]
    if other_429s:
        row.notes.append(f"other 429s {other_429s}")


def find(model: list[dict[str, Any]], pattern: str) -> dict[int, list[dict[str, Any]]]:
    """Model requests by the number in their last message (``pattern`` captures it)."""
    found: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for request in model:
        if request["stream"] and (match := re.search(pattern, request["content"])):
            found[int(match[1])].append(request)
    return found


# -- scenarios ------------------------------------------------------------------------------------


@dataclass
class Bench:
    bot: Any
    host: FakesHost
    world: list[dict[str, Any]]
    streams_channel: int
    dump: Path | None = None  # write each scenario's raw results here
    pids: list[int] | None = None  # the bot's processes, when not this one
    chunk_size: int = CHUNK
    delay: float = DELAY

    async def results(
        self, name: str, channels: list[int], lag: LagMonitor, **extra: Any
    ) -> dict[str, Any]:
        results = await self.host.call("results", channels=channels)
        if self.dump is not None:  # the bot's lag samples too, by time.monotonic() here
            self.dump.mkdir(parents=True, exist_ok=True)
            bot_lag = list(zip(lag.woke, lag.lags, strict=True))
            (self.dump / f"{name}.json").write_text(
                json.dumps({**results, **extra, "bot_lag": bot_lag})
            )
        return results

    async def fresh(self, text: str = TEXT) -> None:
        await asyncio.sleep(2)  # let the last scenario's stragglers (typing, ...) pass
        await self.host.call("script", text=text, chunk_size=self.chunk_size, delay=self.delay)
        await self.host.call("reset")

    async def mentions(
        self,
        name: str,
        label: str,
        count: int,
        over: float = 0.0,
        answer: str = TEXT,
        channels: int | None = None,
    ) -> Row:
        """``count`` people mention the bot, round-robin over the world's channels (the first
        ``channels`` of them, if given), spread over ``over`` seconds; each is answered in a
        thread of its own. ``name`` tags the prompts (and names the dump), ``label`` is the
        table's."""
        await self.fresh(answer)
        places = [(c, g["members"]) for g in self.world for c in g["channels"]][:channels]
        plan = []
        for i in range(count):
            channel, members = places[i % len(places)]
            plan.append([channel, members[(i // len(places)) % len(members)], f"{name} q{i}"])
        row = Row(name=label, total=count)
        with Timer(self.pids) as timer, LagMonitor() as lag:
            sent = await self.host.call("say", mentions=plan, over=over)
            threads = [s["id"] for s in sent]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if await self.host.call("progress", channels=threads) == count:
                    break
                await asyncio.sleep(0.2)
        parents = sorted({c for c, _ in places})
        results = await self.results(name, threads + parents, sent=sent, lag=lag)
        common(row, results, lag, timer)
        requests = find(results["model"], rf"^{re.escape(name)} q(\d+)$")
        finals = []
        for i, mention in enumerate(sent):
            asked = requests.get(i, [])
            if asked:
                row.to_request.append(asked[0]["arrived"] - mention["at"])
            shown = results["messages"][str(mention["id"])]
            if not shown:
                continue
            final = max(m["changed_at"] for m in shown)
            finals.append(final - mention["at"])
            if len(asked) != 1 or asked[0]["done"] is None:
                continue
            (model,) = asked
            row.to_visible.append(shown[0]["created_at"] - model["first_chunk"])
            if not any(m["streaming"] for m in shown):
                row.to_final.append(final - model["done"])
                row.answered += "".join(m["content"] for m in shown) == answer
        if finals:
            row.slowest = max(finals)
        notices = sum(len(results["messages"][str(c)]) for c in parents)
        if notices:
            row.notes.append(f"{notices} bot messages in the channels (notices)")
        if len(finals) < count:
            row.notes.append(f"{count - len(finals)} prompts without a reply after 120 s")
        return row

    async def single(self) -> Row:
        return await self.mentions("single", "1 mention", 1)

    async def channel_mentions(self) -> Row:
        label = "20 mentions at once in one channel"
        return await self.mentions("channel-mentions", label, 20, channels=1)

    async def burst(self) -> Row:
        return await self.mentions("burst", "200 mentions at once", 200)

    async def minute(self) -> Row:
        return await self.mentions("minute", "1,000 mentions over 60 s", 1000, over=60.0)

    async def minute_short(self) -> Row:
        label = "1,000 over 60 s, 100-token replies"
        return await self.mentions("minute-short", label, 1000, over=60.0, answer=SHORT)

    async def one_channel(self, streams: int = 20) -> Row:
        """``streams`` replies at once in one channel, through the bot's Display."""
        await self.fresh()
        bot, channel_id = self.bot, self.streams_channel
        channel = bot.get_channel(channel_id)
        assert channel is not None
        displays = [
            Display(
                DiscordSurface(bot, channel, channel_id),
                bot.services.pacer,
                post_slot=bot.services.rest_gate.paid,
            )
            for _ in range(streams)
        ]

        async def one(i: int, display: Display) -> None:
            display.start()
            messages = [{"role": "user", "content": f"stream {i}"}]
            async for delta in bot.services.llm.stream(messages, max_tokens=500, reply=Reply()):
                if delta.text:
                    display.feed(delta.text)
            await display.finish()

        row = Row(name=f"{streams} streams in one channel", total=streams)
        with Timer() as timer, LagMonitor() as lag:
            await asyncio.gather(*(one(i, d) for i, d in enumerate(displays)))
        results = await self.results("one-channel", [channel_id], lag=lag)
        common(row, results, lag, timer)
        requests = find(results["model"], r"^stream (\d+)$")
        shown = {m["id"]: m for m in results["messages"][str(channel_id)]}
        finals = []
        for i, display in enumerate(displays):
            (model,) = requests[i]
            mine = [shown[m] for m in display.messages]
            final = max(m["changed_at"] for m in mine)
            finals.append(final - model["first_chunk"])
            row.to_visible.append(mine[0]["created_at"] - model["first_chunk"])
            row.to_final.append(final - model["done"])
            done = not any(m["streaming"] for m in mine)
            row.answered += done and "".join(m["content"] for m in mine) == TEXT
        row.slowest = max(finals)
        row.notes.append("slowest reply counted from its first token (no mention here)")
        return row


SCENARIOS: dict[str, Callable[[Bench], Awaitable[Row]]] = {
    "single": Bench.single,
    "one-channel": Bench.one_channel,
    "channel-mentions": Bench.channel_mentions,
    "burst": Bench.burst,
    "minute": Bench.minute,
    "minute-short": Bench.minute_short,
}


@contextlib.asynccontextmanager
async def database(url: str | None) -> AsyncIterator[str]:
    if not url:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return
    from tests.databases import fresh_schema

    async with fresh_schema(url) as db:
        yield db.url_with_schema


@contextlib.asynccontextmanager
async def bot_in_process(env: dict[str, str], host: FakesHost) -> AsyncIterator[Any]:
    """The bot as ``python -m bot`` builds it, in this process (its loop lag is measured)."""
    discord.http.Route.BASE = host.addresses["api_base"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(host.addresses["gateway_url"])
    settings = load_settings(env)
    bot = build_bot(settings, guild_ready_timeout=0.05)
    runner = asyncio.create_task(bot.start(settings.discord_token))
    ready = asyncio.create_task(bot.wait_until_ready())  # after start() has begun
    done, _ = await asyncio.wait({runner, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if runner in done:
            runner.result()  # raises the start-up error
        raise RuntimeError("the bot did not become ready")
    try:
        yield bot
    finally:
        await bot.close()
        await runner


@contextlib.asynccontextmanager
async def bot_processes(
    count: int, env: dict[str, str], host: FakesHost
) -> AsyncIterator[list[int]]:
    """``count`` processes of ``python -m bot``, one shard each, sharing the database and
    Redis (the REST budget among them); their pids, once every shard is connected."""
    from tests.e2e.test_crash import LAUNCH

    processes = []
    for shard in range(count):
        environment = {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                       "SHARD_COUNT": str(count), "SHARD_IDS": str(shard)}  # fmt: skip
        processes.append(await asyncio.create_subprocess_exec(
            sys.executable, "-c", LAUNCH, host.addresses["api_base"],
            host.addresses["gateway_url"], env=environment, cwd=Path(__file__).parents[1],
        ))  # fmt: skip
    try:
        deadline = time.monotonic() + 90  # IDENTIFYs are spaced 5 s apart across processes
        while time.monotonic() < deadline:
            seen = await host.call("connected")
            if seen["shards"] == count and seen["logins"] >= count:
                break
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError("the bot's processes did not all connect")
        await asyncio.sleep(4)  # each waits up to 2 s for its servers before it is ready
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        await asyncio.gather(*(process.wait() for process in processes))


async def main(args: argparse.Namespace) -> None:
    names = args.scenario or [n for n in SCENARIOS if args.processes == 1 or n != "one-channel"]
    if args.processes > 1 and ("one-channel" in names or not args.database_url):
        sys.exit("--processes needs --database-url (PostgreSQL), REDIS_URL in --set, and no "
                 "one-channel scenario (it drives the bot's Display in this process)")  # fmt: skip
    rows = []
    async with FakesHost() as host, database(args.database_url) as db_url:
        made = await host.call("world", guilds=GUILDS, channels=CHANNELS, members=MEMBERS)
        world = made["guilds"]
        streams_channel = await host.call("channel", guild=world[0]["id"], name="streams")
        env = {
            "DISCORD_TOKEN": host.addresses["token"],
            "OPENAI_BASE_URL": host.addresses["openai_base_url"], "OPENAI_API_KEY": "sk-bench",
            "DATABASE_URL": db_url, "GUILD_RPM": "0", "GUILD_TPM": "0", "USER_RPM": "0",
            "LOG_LEVEL": "WARNING", **dict(setting.split("=", 1) for setting in args.set),
        }  # fmt: skip
        if args.processes > 1:
            running = bot_processes(args.processes, env, host)
        else:
            running = bot_in_process(env, host)
        async with running as bot_or_pids:
            bot, pids = (None, bot_or_pids) if args.processes > 1 else (bot_or_pids, None)
            bench = Bench(
                bot, host, world, streams_channel, dump=args.dump, chunk_size=args.chunk_size,
                delay=args.delay, pids=pids,
            )  # fmt: skip
            for name in names:
                row = await SCENARIOS[name](bench)
                print(f"{row.name}: " + "; ".join(row.notes), file=sys.stderr, flush=True)
                rows.append(row)
    print()
    print(table(rows))
    print()
    for row in rows:
        print(f"* {row.name}: " + "; ".join(row.notes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=list(SCENARIOS), action="append")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite")
    parser.add_argument("--processes", type=int, default=1,
                        help="run the bot as this many shard processes (PostgreSQL and Redis)")  # fmt: skip
    parser.add_argument("--dump", type=Path, help="a folder for each scenario's raw results")
    parser.add_argument("--chunk-size", type=int, default=CHUNK, help="characters per chunk")
    parser.add_argument("--delay", type=float, default=DELAY, help="seconds between chunks")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a bot setting, e.g. DISCORD_REST_RATE=35")  # fmt: skip
    asyncio.run(main(parser.parse_args()))
