"""PostgreSQL: privacy and retention: forgetting a person, deleting what Discord deleted or what
has been idle too long, and making deleted text unrecoverable. Every write here is safe to run
twice (retried after a dropped connection)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import asyncpg

from bot.services.store.postgres.pool import PostgresConnection
from bot.services.store.rows import first_column


class PostgresPrivacy(PostgresConnection):
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
                    "NULL, tools = NULL, tools_tokens = 0 WHERE seq IN (SELECT a.seq FROM first "
                    "f JOIN turns a ON a.conversation_id = f.conversation_id AND a.seq > f.seq "
                    "WHERE a.role = 'assistant' AND (a.reasoning IS NOT NULL OR a.tools IS NOT "
                    "NULL))",
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
        for table in ("models", "voices"):
            await self.db.execute(
                f"DELETE FROM {table} WHERE scope = 'conversation' AND scope_id = $1",
                conversation_id,
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
                ids = sorted(first_column(rows))
                for table in ("models", "voices"):
                    await conn.execute(
                        f"DELETE FROM {table} WHERE (scope = 'channel' AND scope_id = $1) OR "
                        "(scope = 'conversation' AND scope_id = ANY($2::bigint[]))",
                        place_id, ids,
                    )  # fmt: skip
                for table in ("personas", "tool_switches"):
                    await conn.execute(
                        f"DELETE FROM {table} WHERE scope = 'channel' AND scope_id = $1", place_id
                    )
                return ids

        return await self.db.run(work, retry=True)

    async def delete_guild(self, guild_id: int) -> list[int]:
        ids = first_column(
            await self.db.fetch(
                "DELETE FROM conversations WHERE guild_id = $1 RETURNING id", guild_id
            )
        )
        await self.db.execute("DELETE FROM usage WHERE guild_id = $1", guild_id)
        for table in ("personas", "models", "tool_switches", "voices"):
            await self.db.execute(
                f"DELETE FROM {table} WHERE scope = 'guild' AND scope_id = $1", guild_id
            )
        return ids

    async def delete_idle(self, before: dt.datetime) -> list[int]:
        return first_column(
            await self.db.fetch(
                "DELETE FROM conversations WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM "
                "turns WHERE conversation_id = conversations.id AND created_at >= $1) RETURNING id",
                before,
            )
        )

    async def purge(self) -> bool:
        """PostgreSQL keeps deleted rows in its files until VACUUM reuses the space, and only
        VACUUM FULL (which locks the tables) rewrites them: run it in maintenance windows."""
        return True
