"""PostgreSQL: usage and spending: tokens and cost by server, person and day."""

from __future__ import annotations

import datetime as dt

from bot.core.store import UsageTotals
from bot.services.store.postgres.pool import PostgresConnection
from bot.services.store.rows import to_usage


class PostgresUsage(PostgresConnection):
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
            "INSERT INTO usage (guild_id, user_id, day, requests, prompt_tokens, completion_tokens, "
            "cached_tokens, cost) VALUES ($1, $2, $3, 1, $4, $5, $6, $7) "
            "ON CONFLICT (guild_id, day, user_id) DO UPDATE SET requests = usage.requests + 1, "
            "prompt_tokens = usage.prompt_tokens + excluded.prompt_tokens, "
            "completion_tokens = usage.completion_tokens + excluded.completion_tokens, "
            "cached_tokens = usage.cached_tokens + excluded.cached_tokens, "
            "cost = usage.cost + excluded.cost",
            guild_id or 0, user_id, day, prompt_tokens, completion_tokens, cached_tokens, cost,
            retry=False,  # a second run would count the request twice
        )  # fmt: skip

    async def usage(
        self, *, guild_id: int | None, since: dt.date, user_id: int | None = None
    ) -> UsageTotals:
        query = (
            "SELECT COALESCE(SUM(requests), 0)::bigint, COALESCE(SUM(prompt_tokens), 0)::bigint, "
            "COALESCE(SUM(completion_tokens), 0)::bigint, COALESCE(SUM(cached_tokens), 0)::bigint, "
            "COALESCE(SUM(cost), 0)::double precision "
            "FROM usage WHERE guild_id = $1 AND day >= $2"
        )
        args: list[object] = [guild_id or 0, since]
        if user_id is not None:
            query += " AND user_id = $3"
            args.append(user_id)
        return to_usage(await self.db.fetchrow(query, *args))

    async def spent_by(self, *, user_id: int, day: dt.date) -> float:
        row = await self.db.fetchrow(
            "SELECT COALESCE(SUM(cost), 0)::double precision FROM usage "
            "WHERE day = $1 AND user_id = $2",
            day, user_id,
        )  # fmt: skip
        return float(row[0]) if row else 0.0
