"""SQLite: what each part of :class:`~bot.services.store.sqlite.store.SQLiteStore` works
through: ``db``, the one aiosqlite connection (opened and closed by the store), and reads that
take one trip to its thread."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiosqlite


class SQLiteConnection:
    """The base of the store's parts; :class:`~bot.services.store.sqlite.store.SQLiteStore`
    provides ``db``."""

    db: aiosqlite.Connection

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """A statement's rows in one trip to the connection's thread: a cursor's execute, fetch
        and close would be three, and under load every trip waits its turn."""
        return list(await self.db.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = await self._all(sql, params)
        return rows[0] if rows else None
