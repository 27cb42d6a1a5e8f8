"""Soak benchmark: does the bot's memory stay flat over thousands of replies?

The real bot (``python -m bot``, in a process of its own, on SQLite in a temporary folder) talks
to the fake Discord and the fake OpenAI server (``bench/fakes_host.py``'s, in a second process,
which also plays the people). They mention the bot in 40 channels of 5 servers (100 people), so
it opens threads, and write follow-ups in those threads; each reply streams for about 4 s
(several edits, each carrying the Stop button), and a share of them is stopped by its asker
with the button. A thread is archived after 5 replies, or after 20 s without a message: Discord
archives idle threads (after a day, by default) and discord.py then drops them from its cache,
so the threads it holds are the live ones; 20 s stands for that day, scaled to this run.

This process samples the bot's resident memory (VmRSS) and open file descriptors from /proc
every second, and prints RSS after the warm-up, RSS at the end, the least-squares slope of RSS
against replies after the warm-up (MB per 1,000 replies; the target is under 1) and fds at both
ends. It stops by itself: after ``--replies`` replies or ``--max-seconds`` of traffic, whichever
comes first (then it waits at most a minute for the replies in progress).

    python bench/soak.py [--replies 9000] [--warmup 600] [--rate 14] [--stop-share 0.05]
        [--set NAME=VALUE]  (the bot's environment: a setting, or e.g. MALLOC_ARENA_MAX=2)
        [--tracemalloc]   (snapshots in the bot at the warm-up and at the end, diffed here:
                           what grew, by line; slows the bot down)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from fakes_host import Host, HostProcess, streaming  # noqa: E402
from fakes_host import main as serve_host  # noqa: E402

from tests.fakes.discord_payloads import FakeUser  # noqa: E402

GUILDS, CHANNELS, MEMBERS = 5, 8, 20  # 40 channels, 100 people
ANSWER = " ".join(f"word{i:03d}" for i in range(80))  # 639 characters: one Discord message
CHUNK, DELAY = 24, 0.15  # 27 chunks, about 4 s: a post and several edits with the Stop button
REPLIES_PER_THREAD = 5  # then the thread is archived
ARCHIVE_AFTER = 20.0  # seconds without a message after which a thread is archived
FOLLOW_UP_SHARE = 0.7  # of messages, a follow-up in an idle thread (else a new mention)
GIVE_UP = 120.0  # seconds after which a message without a finished reply counts as lost

# The bot, as ``python -m bot`` runs it, pointed at the fakes; with ``SOAK_SNAPSHOTS`` set, it
# traces allocations and writes a tracemalloc snapshot on each SIGUSR1.
LAUNCH = """
import os, signal, sys, tracemalloc
folder = os.environ.get("SOAK_SNAPSHOTS")
if folder:
    tracemalloc.start(8)
    taken = [0]
    def snapshot(signum, frame):
        import gc
        gc.collect()
        taken[0] += 1
        path = os.path.join(folder, f"{taken[0]}.snapshot")
        tracemalloc.take_snapshot().dump(path + ".part")
        os.replace(path + ".part", path)
    signal.signal(signal.SIGUSR1, snapshot)
import discord, yarl
from discord.gateway import DiscordWebSocket
discord.http.Route.BASE = sys.argv[1]
DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
sys.argv[1:] = []
from bot.__main__ import main
sys.exit(main())
"""


# -- the people (in the fakes' process) -----------------------------------------------------------


@dataclass
class Asked:
    """A message waiting for its reply."""

    thread: int
    asker: FakeUser
    before: int  # the bot's messages in the thread when it was sent
    at: float
    stop: bool  # its asker presses Stop while it streams
    pressed: bool = False


@dataclass
class Traffic:
    """People mentioning the bot and following up in its threads, at ``rate`` messages a second,
    with at most ``concurrency`` waiting for a reply; ``messages`` in all."""

    host: Host
    messages: int
    rate: float
    concurrency: int
    stop_share: float
    seed: int
    sent: int = 0
    answered: int = 0
    stopped: int = 0
    lost: int = 0
    archived: int = 0
    done: bool = False
    waiting: dict[int, Asked] = field(default_factory=dict)  # thread -> its message
    idle: list[tuple[int, float]] = field(default_factory=list)  # (thread, idle since)
    replies: dict[int, int] = field(default_factory=dict)  # thread -> replies so far

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.people = {
            guild.id: [self.host.users[m] for m in guild.members if m in self.host.users]
            for guild in self.host.discord.guilds.values()
        }
        self.places = [
            (channel, self.people[guild.id])
            for guild in self.host.discord.guilds.values()
            for channel in guild.channels
        ]

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        stop_at = None
        try:
            while self.sent < self.messages:
                await self._check()
                if len(self.waiting) >= self.concurrency:
                    await asyncio.sleep(0.05)
                    next_at = max(next_at, loop.time())
                    continue
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                next_at += 1 / self.rate
                await self._ask()
            stop_at = loop.time() + GIVE_UP
            while self.waiting and loop.time() < stop_at:
                await self._check()
                await asyncio.sleep(0.1)
        finally:
            self.done = True

    async def _ask(self) -> None:
        discord = self.host.discord
        self.sent += 1
        content = f"soak question {self.sent}"
        if self.idle and self.random.random() < FOLLOW_UP_SHARE:
            thread, _ = self.idle.pop(self.random.randrange(len(self.idle)))
            guild = discord.guild_of(thread)
            assert guild is not None
            asker = self.random.choice(self.people[guild.id])
            before = len(discord.bot_messages(thread))
            await discord.user_says(thread, asker, content)
        else:
            channel, people = self.random.choice(self.places)
            asker = self.random.choice(people)
            message = await discord.user_says(channel, asker, content, mention_bot=True)
            thread, before = int(message["id"]), 0  # the thread opened on it shares its id
        stop = self.random.random() < self.stop_share
        self.waiting[thread] = Asked(thread, asker, before, time.monotonic(), stop)

    async def _check(self) -> None:
        discord = self.host.discord
        now = time.monotonic()
        for thread, asked in list(self.waiting.items()):
            new = discord.bot_messages(thread)[asked.before :]
            if new and not any(streaming(m) for m in new):
                del self.waiting[thread]
                self.answered += 1
                self.stopped += new[-1]["content"].endswith("*(stopped)*")
                await self._replied(thread)
            elif asked.stop and not asked.pressed and new and streaming(new[-1]):
                if now - asked.at > 1.0:  # the bot has its message as its own by then
                    asked.pressed = True
                    await discord.click(new[-1], asked.asker)
            elif now - asked.at > GIVE_UP:
                del self.waiting[thread]
                self.lost += 1

    async def _replied(self, thread: int) -> None:
        count = self.replies[thread] = self.replies.get(thread, 0) + 1
        if count < REPLIES_PER_THREAD:
            self.idle.append((thread, time.monotonic()))
        else:
            await self._archive(thread)
        while self.idle and time.monotonic() - self.idle[0][1] > ARCHIVE_AFTER:
            await self._archive(self.idle.pop(0)[0])

    async def _archive(self, thread: int) -> None:
        self.replies.pop(thread, None)
        channel = self.host.discord.channels.get(thread)
        if channel is not None:  # as Discord auto-archives an idle thread
            channel["thread_metadata"]["archived"] = True
            await self.host.discord.dispatch("THREAD_UPDATE", channel)
            self.archived += 1

    def status(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "answered": self.answered, "stopped": self.stopped,
            "lost": self.lost, "archived": self.archived, "waiting": len(self.waiting),
            "done": self.done,
        }  # fmt: skip


class SoakHost(Host):
    ENDPOINTS = (*Host.ENDPOINTS, "soak", "status", "limit", "enough")

    def __init__(self) -> None:
        super().__init__()
        self.traffic: Traffic | None = None

    async def limit(self, requests: int) -> None:
        """Discord's global limit, raised so that Discord's pace is not what this measures."""
        self.discord.global_limit = requests

    async def soak(self, **options: Any) -> None:
        self.traffic = Traffic(self, **options)
        self._running = asyncio.create_task(self.traffic.run())

    async def status(self) -> dict[str, Any]:
        assert self.traffic is not None
        return self.traffic.status()

    async def enough(self) -> None:
        """The people stop writing; the replies in progress finish."""
        assert self.traffic is not None
        self.traffic.messages = self.traffic.sent


# -- this process: the bot's memory over time -----------------------------------------------------


class Fakes(HostProcess):
    """The fakes' process (this file with ``--fakes``) and calls to its control API."""

    def __init__(self) -> None:
        super().__init__(__file__, "--fakes")


@dataclass
class Sample:
    at: float
    replies: int
    rss_mb: float
    fds: int


def measure(pid: int) -> tuple[float, int]:
    """The process's resident memory (MB) and open file descriptors."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def mappings(pid: int) -> dict[str, int]:
    """Resident kB by mapping: the heap, anonymous memory (pymalloc's arenas, malloc's other
    arenas, thread stacks), and each file (libraries, SQLite's shared memory)."""
    rss: dict[str, int] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":"):  # a mapping's header: address perms offset dev inode path
            name = fields[5] if len(fields) > 5 else "[anonymous]"
        elif fields[0] == "Rss:":
            rss[name] = rss.get(name, 0) + int(fields[1])
    return rss


def mapping_growth(before: dict[str, int], after: dict[str, int]) -> str:
    grown = sorted(((after.get(k, 0) - before.get(k, 0), k) for k in {*before, *after}),
                   reverse=True)  # fmt: skip
    return "; ".join(f"{name} {kb / 1024:+.1f} MB" for kb, name in grown[:4] if kb)


def slope(samples: list[Sample]) -> float:
    """Least squares: MB of RSS per 1,000 replies."""
    xs = [s.replies / 1000 for s in samples]
    ys = [s.rss_mb for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


async def poll(check: Callable[[], Awaitable[bool]], within: float, every: float) -> None:
    """Until ``check()`` is true; TimeoutError after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every)
    raise TimeoutError


async def snapshot(pid: int, folder: Path, number: int) -> tracemalloc.Snapshot:
    os.kill(pid, signal.SIGUSR1)
    path = folder / f"{number}.snapshot"

    async def written() -> bool:
        return path.exists()

    await poll(written, 300, 0.2)
    return tracemalloc.Snapshot.load(str(path))


def growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> str:
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    lines = [f"Python allocations in the bot grew by {total / 1024:+.1f} kB between the warm-up "
             "and the end (tracemalloc, after a gc.collect()); by line:"]  # fmt: skip
    for stat in after.compare_to(before, "lineno")[:15]:
        lines.append(f"  {stat.size_diff / 1024:+9.1f} kB {stat.count_diff:+7d} blocks  "
                     f"{stat.traceback[0]}")  # fmt: skip
    lines.append("The three largest, with where they came from:")
    for stat in after.compare_to(before, "traceback")[:3]:
        lines.append(f"  {stat.size_diff / 1024:+9.1f} kB")
        lines += [f"      {frame}" for frame in stat.traceback.format()[-12:]]
    return "\n".join(lines)


async def soak(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        async with Fakes() as fakes:
            await fakes.call("world", guilds=GUILDS, channels=CHANNELS, members=MEMBERS)
            await fakes.call("script", text=ANSWER, chunk_size=CHUNK, delay=DELAY)
            await fakes.call("limit", requests=args.discord_rate + 20)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "DISCORD_TOKEN": fakes.addresses["token"],
                "OPENAI_BASE_URL": fakes.addresses["openai_base_url"],
                "OPENAI_API_KEY": "sk-soak", "DATABASE_URL": f"sqlite:///{folder}/soak.sqlite3",
                "GUILD_RPM": "0", "GUILD_TPM": "0", "USER_RPM": "0", "LOG_LEVEL": "WARNING",
                "DISCORD_REST_RATE": str(args.discord_rate),
                "TIKTOKEN_CACHE_DIR": f"{folder}/tiktoken",
                **dict(setting.split("=", 1) for setting in args.set),
            }  # fmt: skip
            snapshots = Path(folder) / "snapshots"
            if args.tracemalloc:
                snapshots.mkdir()
                env["SOAK_SNAPSHOTS"] = str(snapshots)
            bot = await asyncio.create_subprocess_exec(
                sys.executable, "-c", LAUNCH, fakes.addresses["api_base"],
                fakes.addresses["gateway_url"], env=env, cwd=HERE.parent,
            )  # fmt: skip
            try:
                return await drive(args, fakes, bot.pid, snapshots)
            finally:
                if bot.returncode is None:
                    bot.terminate()
                await bot.wait()


async def drive(args: argparse.Namespace, fakes: Fakes, pid: int, snapshots: Path) -> int:
    async def connected() -> bool:
        return (await fakes.call("connected"))["logins"] >= 1

    await poll(connected, 60, 0.5)
    await asyncio.sleep(4)  # the bot waits up to 2 s for its servers before it is ready
    started = time.monotonic()
    await fakes.call(
        "soak", messages=args.replies, rate=args.rate, concurrency=args.concurrency,
        stop_share=args.stop_share, seed=args.seed,
    )  # fmt: skip
    samples: list[Sample] = []
    warm: Sample | None = None
    warm_maps: dict[str, int] = {}
    before = after = None
    enough = False
    while True:
        status = await fakes.call("status")
        rss, fds = measure(pid)
        samples.append(Sample(time.monotonic() - started, status["answered"], rss, fds))
        if warm is None and status["answered"] >= args.warmup:
            warm = samples[-1]
            warm_maps = mappings(pid)
            if args.tracemalloc:
                before = await snapshot(pid, snapshots, 1)
        if status["done"]:
            break
        if not enough and time.monotonic() - started > args.max_seconds:
            print(f"{args.max_seconds:.0f} s: the people stop writing", file=sys.stderr)
            await fakes.call("enough")  # the replies in progress finish (GIVE_UP at most)
            enough = True
        if len(samples) % 15 == 0:
            print(f"{samples[-1].at:6.0f} s  {status['answered']:5d} replies  "
                  f"RSS {rss:6.1f} MB  fds {fds}", file=sys.stderr, flush=True)  # fmt: skip
        await asyncio.sleep(1.0)
    end = samples[-1]
    if warm is not None:
        print(f"resident memory that grew after the warm-up, by mapping: "
              f"{mapping_growth(warm_maps, mappings(pid))}", file=sys.stderr)  # fmt: skip
    if args.tracemalloc and before is not None:
        after = await snapshot(pid, snapshots, 2)
    report(args, status, samples, warm, end)
    if before is not None and after is not None:
        print()
        print(growth(before, after))
    return 0 if warm is not None and status["lost"] == 0 else 1


def report(args, status, samples: list[Sample], warm: Sample | None, end: Sample) -> None:
    print()
    print(f"replies: {status['answered']} answered ({status['stopped']} stopped with the "
          f"button), {status['lost']} lost, {status['archived']} threads archived, "
          f"in {end.at:.0f} s")  # fmt: skip
    if warm is None:
        print(f"the warm-up ({args.warmup} replies) never ended: no figure")
        return
    after = [s for s in samples if s.replies >= warm.replies]
    per_thousand = slope(after)
    peak = max(s.rss_mb for s in after)
    print(f"RSS after the warm-up ({warm.replies} replies): {warm.rss_mb:.1f} MB; at the end "
          f"({end.replies}): {end.rss_mb:.1f} MB; peak after the warm-up {peak:.1f} MB")  # fmt: skip
    print(f"slope after the warm-up: {per_thousand:+.2f} MB per 1,000 replies "
          f"(target < 1); open fds {warm.fds} then {end.fds}")  # fmt: skip
    # Bounded memory shows as a slope that falls from third to third (the allocators' free
    # lists filling, then reused); a leak keeps it steady.
    thirds = [after[len(after) * i // 3 : len(after) * (i + 1) // 3 + 1] for i in range(3)]
    print("slope by third of the run after the warm-up: " + ", ".join(
        f"{part[0].replies}-{part[-1].replies}: {slope(part):+.2f}" for part in thirds
    ) + " MB per 1,000 replies")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:] == ["--fakes"]:
        # A stopped reply closes its model stream: the fake's failed write to it is expected.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        asyncio.run(serve_host(SoakHost()))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=9000, help="messages the people send")
    parser.add_argument("--warmup", type=int, default=600, help="replies before measuring")
    parser.add_argument("--rate", type=float, default=14.0, help="messages a second")
    parser.add_argument("--concurrency", type=int, default=80, help="most awaiting a reply")
    parser.add_argument("--stop-share", type=float, default=0.05, help="replies stopped")
    parser.add_argument("--discord-rate", type=int, default=150, help="DISCORD_REST_RATE")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="of traffic, at most")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of the bot's process")  # fmt: skip
    parser.add_argument("--tracemalloc", action="store_true", help="what grew, by line")
    sys.exit(asyncio.run(soak(parser.parse_args())))
