"""What only the PostgreSQL store does: recorded migrations under an advisory lock, its own
schema, the index plan, and surviving dropped connections. The behaviour both stores share is
tested in test_store.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest

from bot.core.store import StoreError
from bot.services.store import PostgresStore, SQLiteStore, store_from_url
from bot.services.store.postgres import schema as pg_schema
from bot.services.store.postgres.schema import SCHEMA_VERSION
from bot.services.store.postgres.turns import _WITHIN_QUERY
from tests.databases import terminate_backends_now

TABLES = {"conversations", "turns", "personas", "usage", "meta", "images", "models",
          "tool_switches", "voices", "threadbot_migrations"}  # fmt: skip


async def _tables(database) -> set[str]:
    conn = await database.connect()
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            database.schema,
        )
    finally:
        await conn.close()
    return {row[0] for row in rows}


async def _versions(database) -> list[int]:
    conn = await database.connect()
    try:
        return [
            r[0] for r in await conn.fetch("SELECT version FROM threadbot_migrations ORDER BY 1")
        ]
    finally:
        await conn.close()


@pytest.fixture
async def store(pg_database):
    store = pg_database.store()
    await store.open()
    yield store
    await store.close()


async def test_migrations_are_recorded_once_in_the_store_schema(pg_database):
    for _ in range(2):  # opening again migrates nothing
        store = pg_database.store()
        await store.open()
        await store.close()
    assert await _tables(pg_database) == TABLES
    assert await _versions(pg_database) == list(range(1, SCHEMA_VERSION + 1))


async def test_a_missing_schema_is_created(pg_database):
    conn = await pg_database.connect()
    await conn.execute(f"DROP SCHEMA {pg_database.schema}")  # made empty by the fixture
    await conn.close()
    store = pg_database.store()
    await store.open()
    await store.close()
    assert await _tables(pg_database) == TABLES


async def test_processes_starting_together_migrate_once(pg_database):
    # Without the advisory lock, these race to create the same tables and all but one fail.
    stores = [pg_database.store() for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    for store in stores:
        await store.close()
    assert await _versions(pg_database) == list(range(1, SCHEMA_VERSION + 1))


async def test_failed_migration_rolls_back_alone(pg_database, monkeypatch):
    broken = (*pg_schema.MIGRATIONS, ("CREATE TABLE extra (id INTEGER)", "THIS IS NOT SQL"))
    monkeypatch.setattr(pg_schema, "MIGRATIONS", broken)
    monkeypatch.setattr(pg_schema, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StoreError, match=f"cannot open database .*schema {pg_database.schema}"):
        await pg_database.store().open()
    assert await _versions(pg_database) == list(range(1, len(broken)))  # the good ones stay
    assert "extra" not in await _tables(pg_database)


async def test_a_newer_schema_is_refused(pg_database, monkeypatch):
    store = pg_database.store()
    await store.open()
    await store.close()
    monkeypatch.setattr(pg_schema, "SCHEMA_VERSION", SCHEMA_VERSION - 1)
    with pytest.raises(StoreError, match="newer than this bot's"):
        await pg_database.store().open()


async def test_the_running_sum_walks_the_index_newest_first(store, pg_database):
    for conversation_id in range(1, 51):
        await store.create_conversation(conversation_id, guild_id=1, parent_id=1, owner_id=1)
    conn = await pg_database.connect()
    try:
        await conn.execute(
            "INSERT INTO turns (conversation_id, role, content, tokens) "
            "SELECT 1 + i % 50, 'user', repeat('x', 200), 100 FROM generate_series(1, 20000) i"
        )
        # What autovacuum does in production. (Whether the scan is index-only depends on the
        # visibility map, which VACUUM cannot set while other sessions hold old snapshots.)
        await conn.execute("VACUUM ANALYZE turns")
        # The first window newest_turns_within tries for a 2,000-token budget: 64 turns.
        plan = "\n".join(
            row[0]
            for row in await conn.fetch("EXPLAIN " + _WITHIN_QUERY, 7, 0, 64, 2_000, 2**63 - 1)
        )
    finally:
        await conn.close()
    assert re.search(r"Index (Only )?Scan using turns_by_conversation", plan), plan
    assert "Sort" not in plan and "Seq Scan" not in plan, plan


async def test_a_dropped_connection_is_replaced_and_a_read_retried(store, pg_database, caplog):
    await store.create_conversation(1, guild_id=1, parent_id=1, owner_id=1)
    assert terminate_backends_now(pg_database) == 1
    assert (await store.get_conversation(1)).owner_id == 1
    assert "retrying" in caplog.text


async def test_a_turn_with_a_discord_message_is_retried(store, pg_database, caplog):
    await store.create_conversation(1, guild_id=1, parent_id=1, owner_id=1)
    terminate_backends_now(pg_database)
    turn = await store.add_turn(1, role="user", content="hi", tokens=1, message_id=5)
    assert turn is not None and "retrying" in caplog.text
    assert [t.content for t in await store.newest_turns(1, limit=5)] == ["hi"]


async def test_a_write_that_is_not_idempotent_fails_clearly(store, pg_database):
    today = dt.date(2026, 1, 2)
    terminate_backends_now(pg_database)
    with pytest.raises(StoreError, match=r"lost the connection to database .*may be lost"):
        await store.add_usage(
            guild_id=1, user_id=2, day=today, prompt_tokens=10, completion_tokens=1
        )
    assert (await store.usage(guild_id=1, since=today)).requests == 0  # never counted twice
    await store.add_usage(guild_id=1, user_id=2, day=today, prompt_tokens=10, completion_tokens=1)
    assert (await store.usage(guild_id=1, since=today)).requests == 1


async def test_every_pooled_connection_is_replaced_after_a_restart(pg_database):
    store = pg_database.store(pool_size=3)
    await store.open()
    try:
        await store.create_conversation(1, guild_id=1, parent_id=1, owner_id=1)
        # Three connections in the pool, all killed as by a server restart.
        await asyncio.gather(*(store.get_conversation(1) for _ in range(6)))
        assert terminate_backends_now(pg_database) == 3
        results = await asyncio.gather(*(store.get_conversation(1) for _ in range(6)))
        assert all(result is not None for result in results)
    finally:
        await store.close()


async def test_an_unreachable_server_is_one_clear_error_without_the_password():
    store = PostgresStore("postgresql://bot:s3cret@127.0.0.1:1/threadbot")
    with pytest.raises(StoreError) as caught:
        await store.open()
    assert str(caught.value).startswith(
        "cannot open database postgresql://bot@127.0.0.1:1/threadbot"
    )
    assert "s3cret" not in str(caught.value)


def test_store_from_url_picks_the_store_by_scheme():
    store = store_from_url("postgres://bot@db/threadbot?schema=bot", pool_size=12)
    assert isinstance(store, PostgresStore)
    assert (store.db.size, store.schema, store.db.dsn) == (12, "bot", "postgres://bot@db/threadbot")
    assert isinstance(store_from_url("sqlite:///bot.sqlite3"), SQLiteStore)


async def test_the_pool_has_the_configured_size(pg_database):
    store = pg_database.store(pool_size=3)
    await store.open()
    try:
        assert (store.pool.get_min_size(), store.pool.get_max_size()) == (1, 3)
    finally:
        await store.close()


async def test_places_stored_before_via_interaction_are_marked(pg_database, monkeypatch):
    marking = next(
        number
        for number, statements in enumerate(pg_schema.MIGRATIONS)
        if any("via_interaction" in statement for statement in statements)
    )
    full = pg_schema.MIGRATIONS
    monkeypatch.setattr(pg_schema, "MIGRATIONS", full[:marking])
    monkeypatch.setattr(pg_schema, "SCHEMA_VERSION", marking)
    old = pg_database.store()
    await old.open()
    await old.db.execute(  # as the bot before: a /chat place, or a DM, and a thread
        "INSERT INTO conversations (id, guild_id, parent_id, owner_id) "
        "VALUES (1, NULL, NULL, 30), (2, 10, 20, 30)"
    )
    await old.close()
    monkeypatch.setattr(pg_schema, "MIGRATIONS", full)
    monkeypatch.setattr(pg_schema, "SCHEMA_VERSION", len(full))
    store = pg_database.store()
    await store.open()
    try:
        assert (await store.get_conversation(1)).via_interaction
        assert not (await store.get_conversation(2)).via_interaction
        assert await store.conversation_ids(10) == [2]
    finally:
        await store.close()


async def test_a_pool_acquire_times_out_and_says_so(pg_database):
    store = pg_database.store(pool_size=1)
    await store.open()
    try:
        store.db.acquire_timeout = 0.2
        async with store.db.pool.acquire():  # the only connection, held (a stuck query)
            with pytest.raises(StoreError, match=r"no connection to database .* within 0\.2 s"):
                await store.get_conversation(1)
        assert await store.get_conversation(1) is None  # free again: it answers
    finally:
        await store.close()
