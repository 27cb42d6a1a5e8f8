"""PostgreSQL: the ``meta`` table: small facts about the deployment, and which processes are
alive (their heartbeats)."""

from __future__ import annotations

from bot.services.store.postgres.pool import PostgresConnection
from bot.services.store.rows import worker_key


def _stamp(seconds_ago: str) -> str:
    """Heartbeats: the database's clock, ``seconds_ago`` back, UTC, as text that sorts as time
    does."""
    return (
        f"to_char((now() - make_interval(secs => {seconds_ago}::float8)) AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    )


class PostgresMeta(PostgresConnection):
    async def get_meta(self, key: str) -> str | None:
        row = await self.db.fetchrow("SELECT value FROM meta WHERE key = $1", key)
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key, value,
        )  # fmt: skip

    async def heartbeat(self, worker: str, *, ago: float = 0.0) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES ($1, " + _stamp("$2") + ") "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            worker_key(worker), float(ago),
        )  # fmt: skip

    async def live_workers(self, within: float) -> list[str]:
        await self.db.execute(
            "DELETE FROM meta WHERE key LIKE 'worker:%' AND value < " + _stamp("$1"),
            float(within),
        )
        rows = await self.db.fetch("SELECT substr(key, 8) FROM meta WHERE key LIKE 'worker:%'")
        return [row[0] for row in rows]

    async def retire(self, worker: str) -> None:
        await self.db.execute("DELETE FROM meta WHERE key = $1", worker_key(worker))
