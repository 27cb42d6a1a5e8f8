"""SQLite: the ``meta`` table: small facts about the deployment, and which processes are alive
(their heartbeats)."""

from __future__ import annotations

from bot.services.store.rows import worker_key
from bot.services.store.sqlite.connection import SQLiteConnection

# Heartbeats: the database's clock, UTC, as text that sorts as time does.
_STAMP = "%Y-%m-%dT%H:%M:%f"


class SQLiteMeta(SQLiteConnection):
    async def get_meta(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def heartbeat(self, worker: str, *, ago: float = 0.0) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, strftime(?, 'now', ?)) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (worker_key(worker), _STAMP, f"-{ago} seconds"),
        )

    async def live_workers(self, within: float) -> list[str]:
        await self.db.execute(
            "DELETE FROM meta WHERE key LIKE 'worker:%' AND value < strftime(?, 'now', ?)",
            (_STAMP, f"-{within} seconds"),
        )
        return [
            row[0]
            for row in await self._all("SELECT substr(key, 8) FROM meta WHERE key LIKE 'worker:%'")
        ]

    async def retire(self, worker: str) -> None:
        await self.db.execute("DELETE FROM meta WHERE key = ?", (worker_key(worker),))
