"""Test databases: SQLite files under ``tmp_path``; PostgreSQL schemas made for one test and
dropped after it; Redis key prefixes of one test, whose keys are deleted after it (never anything
a test did not create).

PostgreSQL tests read the server's address from ``TEST_DATABASE_URL``, Redis tests from
``TEST_REDIS_URL``. Without them they skip, on a contributor's laptop; in CI (``CI`` set) the
whole run fails instead, so they cannot silently stop running.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from bot.core.settings import DEFAULT_POOL_SIZE
from bot.services.ratelimit.redis import RedisLimiter
from bot.services.store import PostgresStore

EXAMPLE_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_EXAMPLE_URL = "redis://127.0.0.1:6379/0"
_NEEDED = (
    ("TEST_DATABASE_URL", "the PostgreSQL store tests", EXAMPLE_URL),
    ("TEST_REDIS_URL", "the Redis limiter tests", REDIS_EXAMPLE_URL),
)


def ci_problem(env: Mapping[str, str]) -> str | None:
    """Why this run must not start, if it is CI without a PostgreSQL or Redis to test against."""
    if env.get("CI", "").lower() in ("", "0", "false"):
        return None
    for variable, tests, example in _NEEDED:
        if not env.get(variable):
            return (
                f"CI is set but {variable} is not, so {tests} would be skipped; "
                f"set it (e.g. {example}) or run .ci/run"
            )
    return None


def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip(f"PostgreSQL tests need TEST_DATABASE_URL (e.g. {EXAMPLE_URL})")
    return url


def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip(f"Redis tests need TEST_REDIS_URL (e.g. {REDIS_EXAMPLE_URL})")
    return url


@dataclass(frozen=True, slots=True)
class RedisSpace:
    """One test's own key prefix on the Redis test server, and a client to look at its keys."""

    url: str
    prefix: str
    client: Redis

    def limiter(self, **options: Any) -> RedisLimiter:
        """A limiter with a client of its own (as another process would have), on this prefix."""
        options.setdefault("timeout", 2.0)  # a loaded test machine must not look like an outage
        return RedisLimiter.from_url(self.url, prefix=self.prefix, **options)

    async def keys(self) -> set[str]:
        return {key.decode() async for key in self.client.scan_iter(match=f"{self.prefix}*")}


@asynccontextmanager
async def fresh_prefix(url: str) -> AsyncIterator[RedisSpace]:
    """A prefix no other test uses; afterwards its keys, and only those, are deleted."""
    client = Redis.from_url(url)
    space = RedisSpace(url, f"threadbot-test-{secrets.token_hex(6)}:", client)
    try:
        yield space
    finally:
        try:
            if keys := await space.keys():
                await client.delete(*keys)
        finally:
            await client.aclose()


@dataclass(frozen=True, slots=True)
class PgDatabase:
    """One test's own schema on the test server."""

    url: str
    schema: str

    @property
    def application_name(self) -> str:
        """Names this test's connections, so a test terminates only its own backends."""
        return f"threadbot-{self.schema}"

    @property
    def url_with_schema(self) -> str:
        return f"{self.url}{'&' if '?' in self.url else '?'}schema={self.schema}"

    def store(self, *, pool_size: int = DEFAULT_POOL_SIZE) -> PostgresStore:
        return PostgresStore(
            self.url,
            pool_size=pool_size,
            schema=self.schema,
            application_name=self.application_name,
        )

    async def connect(self) -> asyncpg.Connection:
        """A connection of the test's own (not the store's) with the schema on its path."""
        return await asyncpg.connect(self.url, server_settings={"search_path": self.schema})


@asynccontextmanager
async def fresh_schema(url: str) -> AsyncIterator[PgDatabase]:
    name = f"test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA {name}")  # fails if it exists: we drop only our own
    finally:
        await conn.close()
    try:
        yield PgDatabase(url, name)
    finally:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"DROP SCHEMA {name} CASCADE")
        finally:
            await conn.close()


def terminate_backends_now(database: PgDatabase) -> int:
    """Terminate the test's store connections (as a server restart would) while blocking the
    event loop, so the store cannot notice before its next query; how many were terminated."""

    async def terminate() -> int:
        conn = await asyncpg.connect(database.url)
        try:
            return await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE application_name = $1",
                database.application_name,
            )
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, terminate()).result()
