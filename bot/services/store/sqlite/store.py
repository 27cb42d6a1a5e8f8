"""SQLite implementation of :class:`~bot.core.store.Store` on aiosqlite: the connection's life.

WAL mode and a busy timeout let several connections (or a second process) write safely; the schema
is versioned with ``PRAGMA user_version`` and each migration runs in one transaction, so a failure
leaves the file as it was (:mod:`bot.services.store.sqlite.schema`).

The queries are in one module per concern, the same modules as the PostgreSQL store's, so a
change to one is easy to carry to the other: ``conversations``, ``turns``, ``choices``,
``privacy``, ``usage`` and ``meta``. The rows they read become values in
:mod:`bot.services.store.rows`, shared by both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from pathlib import Path

import aiosqlite

from bot.core.store import StoreError
from bot.services.store.sqlite.choices import SQLiteChoices
from bot.services.store.sqlite.conversations import SQLiteConversations
from bot.services.store.sqlite.meta import SQLiteMeta
from bot.services.store.sqlite.privacy import SQLitePrivacy
from bot.services.store.sqlite.schema import migrate
from bot.services.store.sqlite.turns import SQLiteTurns
from bot.services.store.sqlite.usage import SQLiteUsage


def _create_private(path: Path) -> None:
    """A new database file readable by its owner only (0600): SQLite gives the write-ahead log
    and shared-memory files the database file's mode. An existing file keeps its mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class SQLiteStore(
    SQLiteConversations, SQLiteTurns, SQLiteChoices, SQLitePrivacy, SQLiteUsage, SQLiteMeta
):
    """One aiosqlite connection (one worker thread); SQLite serialises the writes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._resolved = None if path == ":memory:" else Path(path).resolve()
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    def _describe(self) -> str:
        return str(self._resolved or self.path)

    async def open(self) -> None:
        if self._resolved is not None and not self._resolved.parent.is_dir():
            raise StoreError(f"cannot open database {self._describe()}: folder does not exist")
        try:
            if self._resolved is not None:
                await asyncio.to_thread(_create_private, self._resolved)
            self._db = await aiosqlite.connect(self.path, isolation_level=None, timeout=10)
            await self._db.execute("PRAGMA foreign_keys = ON")
            await self._db.execute("PRAGMA busy_timeout = 10000")
            # Deleted text is overwritten, not only unlinked (/forget, deleted threads).
            await self._db.execute("PRAGMA secure_delete = ON")
            if self.path != ":memory:":
                await self._db.execute("PRAGMA journal_mode = WAL")
                # Commits don't wait for the disk: safe against a crash, not a power cut (README).
                await self._db.execute("PRAGMA synchronous = NORMAL")
            await migrate(self.db, self._describe())
        except sqlite3.Error as exc:
            await self.close()
            raise StoreError(f"cannot open database {self._describe()}: {exc}") from exc

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()
