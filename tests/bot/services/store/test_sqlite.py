"""What only the SQLite store does: WAL, PRAGMA user_version migrations, clear file errors.
The behaviour both stores share is tested in test_store.py."""

from __future__ import annotations

import sqlite3

import pytest

from bot.core.store import StoreError
from bot.services.store import SQLiteStore
from bot.services.store.sqlite import schema
from bot.services.store.sqlite.schema import SCHEMA_VERSION


@pytest.fixture
def store(sqlite_store):
    return sqlite_store


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


async def test_newest_turns_uses_the_index(store):
    async with store.db.execute(
        "EXPLAIN QUERY PLAN SELECT seq FROM turns WHERE conversation_id = 1 AND seq < 5 "
        "ORDER BY seq DESC LIMIT 3"
    ) as cursor:
        plan = " ".join(str(row) for row in await cursor.fetchall())
    assert "turns_by_conversation" in plan and "TEMP B-TREE" not in plan


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


async def test_a_new_database_and_its_log_files_are_private(tmp_path):
    path = tmp_path / "private.sqlite3"
    store = SQLiteStore(str(path))
    await store.open()
    await store.create_conversation(1, guild_id=None, parent_id=None, owner_id=2)
    files = [path, tmp_path / "private.sqlite3-wal", tmp_path / "private.sqlite3-shm"]
    assert all(f.exists() for f in files)
    assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o600 for f in files}
    await store.close()


async def test_an_existing_database_keeps_its_mode(tmp_path):
    path = tmp_path / "shared.sqlite3"
    path.touch(mode=0o640)
    path.chmod(0o640)
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()
    assert path.stat().st_mode & 0o777 == 0o640  # the operator's choice


async def test_a_checkpoint_that_another_reader_blocks_is_reported_and_retried(tmp_path, caplog):
    path = tmp_path / "bot.sqlite3"
    store = SQLiteStore(str(path))
    await store.open()
    await store.db.execute("PRAGMA busy_timeout = 50")  # don't wait 10 s for the reader
    await store.create_conversation(1, guild_id=None, parent_id=None, owner_id=2)
    assert await store.purge()
    reader = sqlite3.connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM conversations").fetchone()  # holds a snapshot
    await store.add_turn(1, role="user", content="secret", tokens=1, message_id=1)
    await store.delete_message(1)
    assert not await store.purge()  # the reader pins the log: reported, not ignored
    assert "Could not truncate the write-ahead log" in caplog.text
    assert (tmp_path / "bot.sqlite3-wal").stat().st_size > 0
    reader.rollback()
    reader.close()
    assert await store.purge()
    assert (tmp_path / "bot.sqlite3-wal").stat().st_size == 0


async def test_places_stored_before_via_interaction_are_marked_and_dms_come_back(
    tmp_path, monkeypatch
):
    path = str(tmp_path / "old.sqlite3")
    marking = next(
        number
        for number, statements in enumerate(schema.MIGRATIONS)
        if any("via_interaction" in statement for statement in statements)
    )
    full = schema.MIGRATIONS
    monkeypatch.setattr(schema, "MIGRATIONS", full[:marking])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", marking)
    old = SQLiteStore(path)
    await old.open()
    await old.db.execute(  # as the bot before: a /chat place, or a DM, and a thread
        "INSERT INTO conversations (id, guild_id, parent_id, owner_id) "
        "VALUES (1, NULL, NULL, 30), (2, 10, 20, 30)"
    )
    await old.close()
    monkeypatch.setattr(schema, "MIGRATIONS", full)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(full))
    store = SQLiteStore(path)
    await store.open()
    assert (await store.get_conversation(1)).via_interaction
    assert not (await store.get_conversation(2)).via_interaction
    assert await store.conversation_ids(10) == [2]
    dm = await store.create_conversation(1, guild_id=None, parent_id=None, owner_id=30)
    assert not dm.via_interaction  # a DM's next message makes it listened again
    await store.close()
