"""SQLite: usage and spending: tokens and cost by server, person and day."""

from __future__ import annotations

import datetime as dt

from bot.core.store import UsageTotals
from bot.services.store.rows import to_usage
from bot.services.store.sqlite.connection import SQLiteConnection


class SQLiteUsage(SQLiteConnection):
    async def add_usage(
        self,
        *,
        guild_id: int | None,
        user_id: int,
        day: dt.date,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int = 0,
        cost: float = 0.0,
    ) -> None:
        await self.db.execute(
            "INSERT INTO usage (guild_id, user_id, day, requests, prompt_tokens, "
            "completion_tokens, cached_tokens, cost) VALUES (?, ?, ?, 1, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id, day, user_id) DO UPDATE SET requests = requests + 1, "
            "prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
            "completion_tokens = completion_tokens + excluded.completion_tokens, "
            "cached_tokens = cached_tokens + excluded.cached_tokens, cost = cost + excluded.cost",
            (guild_id or 0, user_id, day.isoformat(), prompt_tokens, completion_tokens,
             cached_tokens, cost),
        )  # fmt: skip

    async def usage(
        self, *, guild_id: int | None, since: dt.date, user_id: int | None = None
    ) -> UsageTotals:
        query = (
            "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(prompt_tokens), 0), "
            "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cached_tokens), 0), "
            "COALESCE(SUM(cost), 0) "
            "FROM usage WHERE guild_id = ? AND day >= ?"
        )
        params: list[object] = [guild_id or 0, since.isoformat()]
        if user_id is not None:
            query += " AND user_id = ?"
            params.append(user_id)
        return to_usage(await self._one(query, params))

    async def spent_by(self, *, user_id: int, day: dt.date) -> float:
        row = await self._one(
            "SELECT COALESCE(SUM(cost), 0) FROM usage WHERE day = ? AND user_id = ?",
            [day.isoformat(), user_id],
        )
        return float(row[0]) if row else 0.0
