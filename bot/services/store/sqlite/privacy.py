"""SQLite: privacy and retention: forgetting a person, deleting what Discord deleted or what
has been idle too long, and making deleted text unrecoverable."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

from bot.services.store.rows import first_column
from bot.services.store.sqlite.connection import SQLiteConnection

log = logging.getLogger(__name__)


class SQLitePrivacy(SQLiteConnection):
    async def forget_user(self, user_id: int, *, names: Collection[str] = ()) -> int:
        names = tuple(names)
        marks = ", ".join("?" * len(names)) or "NULL"
        # Their turns: by author id; before the author column (migration 4), user turns in
        # conversations they started, or under one of their names (see Store.forget_user).
        theirs = (
            "(t.author_id = ? OR (t.author_id IS NULL AND t.role = 'user' AND "
            "(t.conversation_id IN (SELECT id FROM conversations WHERE owner_id = ?) "
            f"OR t.author_name IN ({marks}))))"
        )
        who = (user_id, user_id, *names)
        # One statement at a time, no transaction held across awaits (the connection is
        # shared): each is atomic, the order keeps a retry after a failure complete, and
        # the turns go last, as the two statements before find the conversations by them.
        # Every reasoning and tool call written after their first word in a conversation may
        # quote them.
        await self.db.execute(
            f"WITH first AS (SELECT t.conversation_id, MIN(t.seq) AS seq FROM turns t WHERE "
            f"{theirs} GROUP BY t.conversation_id) UPDATE turns SET reasoning = NULL, "
            "tools = NULL, tools_tokens = 0 WHERE seq IN (SELECT a.seq FROM first f JOIN turns "
            "a ON a.conversation_id = f.conversation_id AND a.seq > f.seq WHERE a.role = "
            "'assistant' AND (a.reasoning IS NOT NULL OR a.tools IS NOT NULL))",
            who,
        )
        # Summaries that may quote them go; no summary begun before now can be saved (a
        # job in flight read their words), so summary_through moves to the newest turn.
        await self.db.execute(
            "UPDATE conversations SET summary = NULL, summary_through = MAX(summary_through, "
            "(SELECT COALESCE(MAX(seq), 0) FROM turns WHERE conversation_id = conversations.id)) "
            "WHERE owner_id = ? OR id IN (SELECT t.conversation_id FROM turns t "
            f"WHERE {theirs})",
            (user_id, *who),
        )
        cursor = await self.db.execute(f"DELETE FROM turns AS t WHERE {theirs}", who)
        await self.db.execute("DELETE FROM usage WHERE user_id = ?", (user_id,))
        return cursor.rowcount

    async def delete_conversation(self, conversation_id: int) -> bool:
        cursor = await self.db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        for table in ("models", "voices"):
            await self.db.execute(
                f"DELETE FROM {table} WHERE scope = 'conversation' AND scope_id = ?",
                (conversation_id,),
            )
        return cursor.rowcount > 0

    async def delete_place(self, place_id: int) -> list[int]:
        ids = first_column(
            await self._all(
                "DELETE FROM conversations WHERE id = ?1 OR parent_id = ?1 OR parent_id IN "
                "(SELECT id FROM conversations WHERE parent_id = ?1) RETURNING id",
                (place_id,),
            )
        )
        marks = ", ".join("?" * len(ids)) or "NULL"
        for table in ("models", "voices"):
            await self.db.execute(
                f"DELETE FROM {table} WHERE (scope = 'channel' AND scope_id = ?) OR "
                f"(scope = 'conversation' AND scope_id IN ({marks}))",
                (place_id, *ids),
            )
        for table in ("personas", "tool_switches"):
            await self.db.execute(
                f"DELETE FROM {table} WHERE scope = 'channel' AND scope_id = ?", (place_id,)
            )
        return sorted(ids)

    async def delete_guild(self, guild_id: int) -> list[int]:
        ids = first_column(
            await self._all(
                "DELETE FROM conversations WHERE guild_id = ? RETURNING id", (guild_id,)
            )
        )
        await self.db.execute("DELETE FROM usage WHERE guild_id = ?", (guild_id,))
        for table in ("personas", "models", "tool_switches", "voices"):
            await self.db.execute(
                f"DELETE FROM {table} WHERE scope = 'guild' AND scope_id = ?", (guild_id,)
            )
        return ids

    async def delete_idle(self, before: dt.datetime) -> list[int]:
        stamp = before.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")  # CURRENT_TIMESTAMP's
        return first_column(
            await self._all(
                "DELETE FROM conversations WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM "
                "turns WHERE conversation_id = conversations.id AND created_at >= ?) RETURNING id",
                (stamp, stamp),
            )
        )

    async def purge(self) -> bool:
        # secure_delete overwrites freed pages in the database file; the write-ahead log may
        # still hold old copies of them until it is checkpointed and truncated. The checkpoint
        # waits (busy_timeout) for other connections' readers and writers, then reports.
        row = await self._one("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, log_frames, done = row if row else (0, -1, -1)
        if busy:
            log.warning(
                "Could not truncate the write-ahead log (another connection is using it: %s of "
                "%s pages copied); deleted text may stay in it until the next checkpoint",
                done, log_frames,
            )  # fmt: skip
            return False
        return True
