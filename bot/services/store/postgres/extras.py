"""PostgreSQL: the store's methods for reasoning, images, model choices, privacy and usage (kept apart from
:mod:`bot.services.store.postgres.store` so each module stays small). Every write here is safe to run twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import asyncpg

from bot.core.store import Image, Scope, ScopedChoices, UsageTotals
from bot.services.store.postgres.pool import Connections


def _stamp(seconds_ago: str) -> str:
    """Heartbeats: the database's clock, ``seconds_ago`` back, UTC, as text that sorts as time
    does."""
    return (
        f"to_char((now() - make_interval(secs => {seconds_ago}::float8)) AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    )


class PostgresExtras:
    """Mixed into :class:`~bot.services.store.postgres.store.PostgresStore`, which provides ``db``."""

    db: Connections

    async def set_reasoning(self, seq: int, reasoning: str) -> None:
        # Not for a reply at or below summary_through: a /forget or /reset came while it was
        # being written (a summary never covers the reply being written), so its reasoning may
        # quote what was deleted.
        await self.db.execute(
            "UPDATE turns SET reasoning = $1 WHERE seq = $2 AND seq > (SELECT summary_through "
            "FROM conversations WHERE id = turns.conversation_id)",
            reasoning, seq,
        )  # fmt: skip

    async def get_reasoning(self, seq: int) -> str | None:
        row = await self.db.fetchrow("SELECT reasoning FROM turns WHERE seq = $1", seq)
        return row[0] if row else None

    async def add_images(self, seq: int, images: list[Image]) -> None:
        rows = [(seq, i, im.mime, im.data, im.width, im.height) for i, im in enumerate(images)]
        await self.db.run(
            lambda conn: conn.executemany(
                "INSERT INTO images (seq, position, mime, data, width, height) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq, position) DO NOTHING",
                rows,
            ),
            retry=True,
        )

    async def images_of(self, seqs: list[int]) -> dict[int, list[Image]]:
        if not seqs:
            return {}
        found: dict[int, list[Image]] = {}
        for seq, mime, data, width, height in await self.db.fetch(
            "SELECT seq, mime, data, width, height FROM images WHERE seq = ANY($1::bigint[]) "
            "ORDER BY seq, position",
            seqs,
        ):
            found.setdefault(seq, []).append(Image(mime, bytes(data), width, height))
        return found

    async def set_model(self, scope: Scope, scope_id: int, model: str | None) -> None:
        if model is None:
            await self.db.execute(
                "DELETE FROM models WHERE scope = $1 AND scope_id = $2", str(scope), scope_id
            )
        else:
            await self.db.execute(
                "INSERT INTO models (scope, scope_id, model) VALUES ($1, $2, $3) "
                "ON CONFLICT (scope, scope_id) DO UPDATE SET model = excluded.model",
                str(scope), scope_id, model,
            )  # fmt: skip

    async def get_choices(
        self, *, conversation_id: int | None, channel_id: int | None, guild_id: int | None
    ) -> ScopedChoices:
        row = await self.db.fetchrow(
            "SELECT (SELECT persona FROM personas WHERE scope = 'channel' AND scope_id = $1), "
            "(SELECT persona FROM personas WHERE scope = 'guild' AND scope_id = $2), "
            "(SELECT model FROM models WHERE scope = 'conversation' AND scope_id = $3), "
            "(SELECT model FROM models WHERE scope = 'channel' AND scope_id = $1), "
            "(SELECT model FROM models WHERE scope = 'guild' AND scope_id = $2)",
            channel_id, guild_id, conversation_id,
        )  # fmt: skip
        assert row is not None
        return ScopedChoices(*row)

    # -- privacy ------------------------------------------------------------------------------

    async def forget_user(self, user_id: int, *, names: Collection[str] = ()) -> int:
        # As in SQLite: their turns by author id, and before the author column those in
        # conversations they started or under one of their names.
        theirs = (
            "(t.author_id = $1 OR (t.author_id IS NULL AND t.role = 'user' AND "
            "(t.conversation_id IN (SELECT id FROM conversations WHERE owner_id = $1) "
            "OR t.author_name = ANY($2::text[]))))"
        )
        names = list(names)

        async def work(conn: asyncpg.Connection) -> int:
            async with conn.transaction():
                # Lock their conversations first, so no reply or summary interleaves.
                await conn.execute(
                    "SELECT id FROM conversations WHERE owner_id = $1 OR id IN (SELECT "
                    f"t.conversation_id FROM turns t WHERE {theirs}) ORDER BY id FOR UPDATE",
                    user_id, names,
                )  # fmt: skip
                await conn.execute(
                    f"WITH first AS (SELECT t.conversation_id, MIN(t.seq) AS seq FROM turns t "
                    f"WHERE {theirs} GROUP BY t.conversation_id) UPDATE turns SET reasoning = "
                    "NULL WHERE seq IN (SELECT a.seq FROM first f JOIN turns a ON "
                    "a.conversation_id = f.conversation_id AND a.seq > f.seq WHERE a.role = "
                    "'assistant' AND a.reasoning IS NOT NULL)",
                    user_id, names,
                )  # fmt: skip
                await conn.execute(
                    "UPDATE conversations SET summary = NULL, summary_through = "
                    "GREATEST(summary_through, (SELECT COALESCE(MAX(seq), 0) FROM turns WHERE "
                    "conversation_id = conversations.id)) WHERE owner_id = $1 OR id IN (SELECT "
                    f"t.conversation_id FROM turns t WHERE {theirs})",
                    user_id, names,
                )  # fmt: skip
                status = await conn.execute(
                    f"DELETE FROM turns AS t WHERE {theirs}", user_id, names
                )
                await conn.execute("DELETE FROM usage WHERE user_id = $1", user_id)
                return int(status.split()[-1])

        return await self.db.run(work, retry=True)

    async def delete_conversation(self, conversation_id: int) -> bool:
        deleted = await self.db.fetch(
            "DELETE FROM conversations WHERE id = $1 RETURNING id", conversation_id
        )
        await self.db.execute(
            "DELETE FROM models WHERE scope = 'conversation' AND scope_id = $1", conversation_id
        )
        return bool(deleted)

    async def delete_place(self, place_id: int) -> list[int]:
        async def work(conn: asyncpg.Connection) -> list[int]:
            async with conn.transaction():
                rows = await conn.fetch(
                    "DELETE FROM conversations WHERE id = $1 OR parent_id = $1 OR parent_id IN "
                    "(SELECT id FROM conversations WHERE parent_id = $1) RETURNING id",
                    place_id,
                )
                ids = sorted(row[0] for row in rows)
                await conn.execute(
                    "DELETE FROM models WHERE (scope = 'channel' AND scope_id = $1) OR "
                    "(scope = 'conversation' AND scope_id = ANY($2::bigint[]))",
                    place_id, ids,
                )  # fmt: skip
                await conn.execute(
                    "DELETE FROM personas WHERE scope = 'channel' AND scope_id = $1", place_id
                )
                return ids

        return await self.db.run(work, retry=True)

    async def delete_guild(self, guild_id: int) -> list[int]:
        rows = await self.db.fetch(
            "DELETE FROM conversations WHERE guild_id = $1 RETURNING id", guild_id
        )
        await self.db.execute("DELETE FROM usage WHERE guild_id = $1", guild_id)
        for table in ("personas", "models"):
            await self.db.execute(
                f"DELETE FROM {table} WHERE scope = 'guild' AND scope_id = $1", guild_id
            )
        return [row[0] for row in rows]

    async def delete_idle(self, before: dt.datetime) -> list[int]:
        rows = await self.db.fetch(
            "DELETE FROM conversations WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM turns "
            "WHERE conversation_id = conversations.id AND created_at >= $1) RETURNING id",
            before,
        )
        return [row[0] for row in rows]

    async def purge(self) -> bool:
        """PostgreSQL keeps deleted rows in its files until VACUUM reuses the space, and only
        VACUUM FULL (which locks the tables) rewrites them: run it in maintenance windows."""
        return True

    # -- processes ----------------------------------------------------------------------------

    async def heartbeat(self, worker: str, *, ago: float = 0.0) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES ($1, " + _stamp("$2") + ") "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            f"worker:{worker}", float(ago),
        )  # fmt: skip

    async def live_workers(self, within: float) -> list[str]:
        await self.db.execute(
            "DELETE FROM meta WHERE key LIKE 'worker:%' AND value < " + _stamp("$1"),
            float(within),
        )
        rows = await self.db.fetch("SELECT substr(key, 8) FROM meta WHERE key LIKE 'worker:%'")
        return [row[0] for row in rows]

    async def retire(self, worker: str) -> None:
        await self.db.execute("DELETE FROM meta WHERE key = $1", f"worker:{worker}")

    # -- usage --------------------------------------------------------------------------------

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
        row = await self.db.fetchrow(query, *args)
        return UsageTotals(*row) if row else UsageTotals()

    async def spent_by(self, *, user_id: int, day: dt.date) -> float:
        row = await self.db.fetchrow(
            "SELECT COALESCE(SUM(cost), 0)::double precision FROM usage "
            "WHERE day = $1 AND user_id = $2",
            day, user_id,
        )  # fmt: skip
        return float(row[0]) if row else 0.0
