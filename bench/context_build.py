"""Benchmark: building one request from a long stored conversation.

Compares the real builder (cached per-message counts, newest turns only) with a naive one that
loads the whole history and re-tokenises every message, for conversations of 100 to 10,000
messages of mixed English, CJK and code: with the whole gpt-4o-mini window, with a 4,000-token
window, and with the default settings (HISTORY_TOKENS 12,000, after a block was summarised).

On SQLite, and on PostgreSQL too when ``--database-url`` or ``TEST_DATABASE_URL`` names a server:
the benchmark then works in a schema of its own (``bench_<random>``), dropped at the end.

    python bench/context_build.py [--database-url postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.catalog import context_window
from bot.core.context import Budget, ContextPacker
from bot.core.conversations import Conversations
from bot.core.store import Store
from bot.core.tokens import TokenCounter
from bot.services.store import PostgresStore, SQLiteStore

MODEL = "gpt-4o-mini"
SIZES = (100, 1_000, 10_000)
REPEAT = 20

ENGLISH = "The quick brown fox jumps over the lazy dog while the committee reviews the budget. "
CJK = "今日はとても良い天気ですね。我们明天去公园散步吧。한국어 문장도 섞어 봅시다. "
CODE = "```python\ndef handler(event):\n    return {k: v for k, v in event.items() if v}\n```\n"


def message(rng: random.Random) -> str:
    piece = rng.choice([ENGLISH, ENGLISH, CJK, CODE])
    return piece * rng.randint(1, 12)


async def fill(store: Store, counter: TokenCounter, size: int, rng: random.Random) -> None:
    await store.create_conversation(1, guild_id=1, parent_id=1, owner_id=1)
    async with _transaction(store):
        await _add_turns(store, counter, size, rng)
    if isinstance(store, PostgresStore):
        # Steady state: autovacuum keeps the visibility map set (index-only scans).
        async with store.pool.acquire() as conn:
            await conn.execute("VACUUM ANALYZE turns")


@contextlib.asynccontextmanager
async def _transaction(store: Store) -> AsyncIterator[None]:
    """SQLite fills 10,000 rows far quicker in one transaction; PostgreSQL needs none."""
    if not isinstance(store, SQLiteStore):
        yield
        return
    await store.db.execute("BEGIN")
    yield
    await store.db.execute("COMMIT")


async def _add_turns(store: Store, counter: TokenCounter, size: int, rng: random.Random) -> None:
    for i in range(size):
        role = "user" if i % 2 == 0 else "assistant"
        name = "alice" if role == "user" else None
        text = message(rng)
        await store.add_turn(
            1, role=role, content=text, tokens=counter.message(role, text, name),
            message_id=i + 1, author_name=name,
        )  # fmt: skip


async def naive_build(store: Store, counter: TokenCounter, budget: Budget, persona: str):
    """Re-send everything that fits, re-tokenising the whole history on every request."""
    turns = await store.newest_turns(1, limit=10**9)
    packer = ContextPacker(counter, budget, persona)
    for turn in turns:
        tokens = counter.message(turn.role, turn.content, turn.author_name)
        turn = type(turn)(*(tokens if f == "tokens" else getattr(turn, f) for f in turn.__slots__))
        packer.offer(turn)  # keeps offering: a naive builder looks at every message
    return packer.build()


async def timed(fn, repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


OpenStore = Callable[[int], contextlib.AbstractAsyncContextManager[Store]]


@contextlib.asynccontextmanager
async def sqlite_store(folder: str, size: int) -> AsyncIterator[Store]:
    store = SQLiteStore(str(Path(folder) / f"bench-{size}.sqlite3"))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def postgres_store(url: str, size: int) -> AsyncIterator[Store]:
    """A store in a schema of the benchmark's own, dropped at the end."""
    schema = f"bench_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        store = PostgresStore(url, schema=schema, application_name="threadbot-bench")
        await store.open()
        try:
            yield store
        finally:
            await store.close()
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


async def run(label: str, open_store: OpenStore) -> None:
    counter = TokenCounter.for_model(MODEL)
    persona = "You are a helpful assistant."
    windows = {"default (128k)": context_window(MODEL), "4,000": 4_000}
    print(f"\n{label}")
    print(
        f"{'messages':>9} | {'window':>14} | {'kept':>5} | {'builder ms':>10} | {'naive ms':>9} | {'speed-up':>8}"
    )
    print("-" * 72)
    for size in SIZES:
        async with open_store(size) as store:
            await measure(store, counter, size, windows, persona)


async def measure(
    store: Store, counter: TokenCounter, size: int, windows: dict[str, int], persona: str
) -> None:
    await fill(store, counter, size, random.Random(size))
    conversation = await store.get_conversation(1)
    assert conversation is not None
    for label, window in windows.items():
        budget = Budget(window, 1024)
        conversations = Conversations(store, counter, budget=budget)
        request = await conversations.build(conversation, persona)
        naive = await naive_build(store, counter, budget, persona)
        assert request.messages == naive.messages  # same answer, different cost
        fast = await timed(lambda: conversations.build(conversation, persona))  # noqa: B023
        slow = await timed(lambda: naive_build(store, counter, budget, persona), 3)  # noqa: B023
        if window == context_window(MODEL):
            naive_full_window = slow
        print(
            f"{size:>9,} | {label:>14} | {request.turns:>5} | {fast:>10.2f} | {slow:>9.1f} | {slow / fast:>7.0f}x"
        )
    # Default settings: 128k window, HISTORY_TOKENS 12,000, after a block was summarised.
    budget = Budget(context_window(MODEL), 1024)
    capped = Conversations(store, counter, budget=budget, history_tokens=12_000)
    through = (await capped.build(conversation, persona)).summarise_through
    if through is not None:
        await store.save_summary(1, "a summary of the earlier conversation " * 40, through)
    summarised = await store.get_conversation(1)
    assert summarised is not None
    request = await capped.build(summarised, persona)
    fast = await timed(lambda: capped.build(summarised, persona))
    slow = naive_full_window  # the naive builder re-sends everything, cap or not
    label = "128k, cap 12k"
    print(
        f"{size:>9,} | {label:>14} | {request.turns:>5} | {fast:>10.2f} | {slow:>9.1f} | {slow / fast:>7.0f}x"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL"),
        help="a PostgreSQL server to measure too (default: TEST_DATABASE_URL)",
    )
    database_url = parser.parse_args().database_url
    with tempfile.TemporaryDirectory() as folder:
        await run("SQLite", lambda size: sqlite_store(folder, size))
    if database_url:
        await run("PostgreSQL", lambda size: postgres_store(database_url, size))


if __name__ == "__main__":
    asyncio.run(main())
