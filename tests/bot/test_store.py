"""The SQLite store: migrations, idempotent inserts, newest-N paging, resets, usage, concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

import pytest

from bot.store import PersonaScope, SQLiteStore, StoreError, TurnStatus, schema
from bot.store.schema import SCHEMA_VERSION


@pytest.fixture
async def store(tmp_path):
    store = SQLiteStore(str(tmp_path / "bot.sqlite3"))
    await store.open()
    yield store
    await store.close()


async def _conversation(store, conversation_id=1):
    return await store.create_conversation(conversation_id, guild_id=10, parent_id=20, owner_id=30)


async def test_migrates_from_empty_with_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "new.sqlite3"
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store = SQLiteStore(str(path))  # opening again migrates nothing and keeps data
    await store.open()
    async with store.db.execute("PRAGMA foreign_keys") as cursor:
        assert (await cursor.fetchone())[0] == 1
    await store.close()


async def test_create_conversation_is_idempotent(store):
    first = await _conversation(store)
    again = await store.create_conversation(1, guild_id=99, parent_id=99, owner_id=99)
    assert again == first
    assert first.owner_id == 30 and first.history_start == 0


async def test_same_discord_message_twice_is_a_no_op(store):
    await _conversation(store)
    first = await store.add_turn(1, role="user", content="hi", tokens=5, message_id=500)
    second = await store.add_turn(1, role="user", content="hi", tokens=5, message_id=500)
    assert first is not None and second is None
    assert len(await store.newest_turns(1, limit=10)) == 1


async def test_newest_turns_pages_newest_first(store):
    await _conversation(store)
    for i in range(10):
        await store.add_turn(1, role="user", content=f"m{i}", tokens=1, message_id=100 + i)
    page = await store.newest_turns(1, limit=4)
    assert [t.content for t in page] == ["m9", "m8", "m7", "m6"]
    page = await store.newest_turns(1, limit=4, before_seq=page[-1].seq)
    assert [t.content for t in page] == ["m5", "m4", "m3", "m2"]


async def test_newest_turns_uses_the_index(store):
    async with store.db.execute(
        "EXPLAIN QUERY PLAN SELECT seq FROM turns WHERE conversation_id = 1 AND seq < 5 "
        "ORDER BY seq DESC LIMIT 3"
    ) as cursor:
        plan = " ".join(str(row) for row in await cursor.fetchall())
    assert "turns_by_conversation" in plan and "TEMP B-TREE" not in plan


async def test_reset_hides_earlier_turns(store):
    await _conversation(store)
    await store.add_turn(1, role="user", content="before", tokens=1, message_id=1)
    await store.reset_conversation(1)
    await store.add_turn(1, role="user", content="after", tokens=1, message_id=2)
    assert [t.content for t in await store.newest_turns(1, limit=10)] == ["after"]


async def test_edit_and_delete_by_message_id(store):
    await _conversation(store)
    await store.add_turn(1, role="user", content="old", tokens=1, message_id=7)
    assert await store.edit_message(7, "new", 3)
    assert [(t.content, t.tokens) for t in await store.newest_turns(1, limit=1)] == [("new", 3)]
    assert await store.delete_message(7)
    assert not await store.delete_message(7)
    assert await store.newest_turns(1, limit=1) == []


async def test_streaming_turns_become_interrupted(store):
    await _conversation(store)
    shown = await store.add_turn(
        1, role="assistant", content="", tokens=2, status=TurnStatus.STREAMING
    )
    await store.attach_message(shown.seq, 777)
    unseen = await store.add_turn(
        1, role="assistant", content="", tokens=2, status=TurnStatus.STREAMING
    )
    interrupted = await store.interrupt_streaming_turns()
    assert [(t.seq, t.message_id) for t in interrupted] == [(shown.seq, 777), (unseen.seq, None)]
    assert all(t.status is TurnStatus.INTERRUPTED for t in interrupted)
    assert await store.interrupt_streaming_turns() == []  # once only
    await store.delete_turn(unseen.seq)
    (stored,) = await store.newest_turns(1, limit=5)
    assert stored.seq == shown.seq and stored.status is TurnStatus.INTERRUPTED


async def test_conversation_ids_newest_first(store):
    for conversation_id in (5, 3, 9):
        await _conversation(store, conversation_id)
    assert await store.conversation_ids(2) == [9, 5]  # snowflakes: the newest first


async def test_personas_by_scope(store):
    await _conversation(store)
    await store.set_default_persona(PersonaScope.GUILD, 10, "pirate")
    assert await store.get_default_persona(PersonaScope.GUILD, 10) == "pirate"
    assert await store.get_default_persona(PersonaScope.CHANNEL, 10) is None
    await store.set_default_persona(PersonaScope.GUILD, 10, None)
    assert await store.get_default_persona(PersonaScope.GUILD, 10) is None
    await store.set_conversation_persona(1, "poet")
    assert (await store.get_conversation(1)).persona == "poet"


async def test_usage_adds_up_per_day_user_and_guild(store):
    today = dt.date(2026, 11, 24)
    for user in (1, 1, 2):
        await store.add_usage(
            guild_id=10,
            user_id=user,
            day=today,
            prompt_tokens=100,
            completion_tokens=10,
            cached_tokens=50,
        )
    await store.add_usage(guild_id=None, user_id=1, day=today, prompt_tokens=7, completion_tokens=1)
    guild = await store.usage(guild_id=10, since=today)
    assert (guild.requests, guild.prompt_tokens, guild.completion_tokens, guild.cached_tokens) == (
        3,
        300,
        30,
        150,
    )
    assert (await store.usage(guild_id=10, since=today, user_id=1)).total_tokens == 220
    assert (await store.usage(guild_id=None, since=today)).prompt_tokens == 7
    assert (await store.usage(guild_id=10, since=today + dt.timedelta(days=1))).requests == 0


async def test_concurrent_writers_from_two_connections(tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    one, two = SQLiteStore(path), SQLiteStore(path)
    await one.open()
    await two.open()
    await _conversation(one)

    async def write(store, base):
        for i in range(50):
            await store.add_turn(1, role="user", content="x", tokens=1, message_id=base + i)

    await asyncio.gather(write(one, 1000), write(two, 2000), write(one, 3000))
    assert len(await two.newest_turns(1, limit=1000)) == 150
    await one.close()
    await two.close()


async def test_corrupt_file_is_a_clear_error_naming_the_path(tmp_path):
    path = tmp_path / "corrupt.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"cannot open database .*corrupt\.sqlite3"):
        await SQLiteStore(str(path)).open()
    assert path.read_bytes() == b"this is not a database" * 100  # nothing written


async def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="folder does not exist"):
        await SQLiteStore(str(tmp_path / "nope" / "bot.sqlite3")).open()


async def test_failed_migration_leaves_the_file_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "bot.sqlite3"
    broken = (*schema.MIGRATIONS, ("CREATE TABLE extra (id INTEGER)", "THIS IS NOT SQL"))
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StoreError):
        await SQLiteStore(str(path)).open()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(broken) - 1
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "extra" not in tables


@pytest.mark.parametrize(("budget", "expected"), [(0, 1), (10, 2), (25, 3), (30, 4), (10_000, 20)])
async def test_newest_turns_within_a_budget(store, budget, expected):
    await _conversation(store)
    for i in range(20):
        await store.add_turn(1, role="user", content=f"m{i}", tokens=10, message_id=i + 1)
    turns = await store.newest_turns_within(1, budget, after_seq=0)
    # All that fit, plus the next older one (so the caller knows more exist).
    assert [t.content for t in turns] == [f"m{19 - i}" for i in range(expected)]


async def test_newest_turns_within_grows_its_window_and_respects_resets(store):
    await _conversation(store)
    for i in range(3000):
        await store.add_turn(1, role="user", content="x", tokens=1, message_id=i + 1)
    assert len(await store.newest_turns_within(1, 2500, after_seq=0)) == 2501
    await store.reset_conversation(1)
    await store.add_turn(1, role="user", content="new", tokens=1, message_id=99_999)
    start = (await store.get_conversation(1)).history_start
    assert [t.content for t in await store.newest_turns_within(1, 2500, after_seq=start)] == ["new"]


async def test_newest_turns_within_stops_before_a_reply_being_written(store):
    await _conversation(store)
    first = await store.add_turn(1, role="user", content="q1", tokens=1, message_id=1)
    reply = await store.add_turn(
        1, role="assistant", content="", tokens=1, status=TurnStatus.STREAMING
    )
    await store.add_turn(1, role="user", content="q2", tokens=1, message_id=2)
    turns = await store.newest_turns_within(1, 100, after_seq=0, before_seq=reply.seq)
    assert [t.seq for t in turns] == [first.seq]
