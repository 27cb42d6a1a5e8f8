"""SQLite: the store's methods for reasoning, images, model choices, privacy and usage (kept apart from
:mod:`bot.services.store.sqlite.store` so each module stays small)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable
from typing import Any

import aiosqlite

from bot.core.store import Image, Scope, ScopedChoices, UsageTotals

log = logging.getLogger(__name__)

# Heartbeats: the database's clock, UTC, as text that sorts as time does.
_STAMP = "%Y-%m-%dT%H:%M:%f"


class SQLiteExtras:
    """Mixed into :class:`~bot.services.store.sqlite.store.SQLiteStore`, which provides ``db``."""

    db: aiosqlite.Connection

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """A statement's rows in one trip to the connection's thread: a cursor's execute, fetch
        and close would be three, and under load every trip waits its turn."""
        return list(await self.db.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def set_reasoning(self, seq: int, reasoning: str) -> None:
        # Not for a reply at or below summary_through: a /forget or /reset came while it was
        # being written (a summary never covers the reply being written), so its reasoning may
        # quote what was deleted.
        await self.db.execute(
            "UPDATE turns SET reasoning = ? WHERE seq = ? AND seq > (SELECT summary_through "
            "FROM conversations WHERE id = turns.conversation_id)",
            (reasoning, seq),
        )

    async def get_reasoning(self, seq: int) -> str | None:
        row = await self._one("SELECT reasoning FROM turns WHERE seq = ?", (seq,))
        return row[0] if row else None

    async def add_images(self, seq: int, images: list[Image]) -> None:
        await self.db.executemany(
            "INSERT INTO images (seq, position, mime, data, width, height) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (seq, position) DO NOTHING",
            [(seq, i, im.mime, im.data, im.width, im.height) for i, im in enumerate(images)],
        )

    async def images_of(self, seqs: list[int]) -> dict[int, list[Image]]:
        if not seqs:
            return {}
        marks = ", ".join("?" * len(seqs))
        found: dict[int, list[Image]] = {}
        for seq, mime, data, width, height in await self._all(
            f"SELECT seq, mime, data, width, height FROM images WHERE seq IN ({marks}) ORDER BY "
            "seq, position",
            seqs,
        ):
            found.setdefault(seq, []).append(Image(mime, bytes(data), width, height))
        return found

    async def set_model(self, scope: Scope, scope_id: int, model: str | None) -> None:
        if model is None:
            await self.db.execute(
                "DELETE FROM models WHERE scope = ? AND scope_id = ?", (str(scope), scope_id)
            )
        else:
            await self.db.execute(
                "INSERT INTO models (scope, scope_id, model) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, scope_id) DO UPDATE SET model = excluded.model",
                (str(scope), scope_id, model),
            )

    async def get_choices(
        self, *, conversation_id: int | None, channel_id: int | None, guild_id: int | None
    ) -> ScopedChoices:
        row = await self._one(
            "SELECT (SELECT persona FROM personas WHERE scope = 'channel' AND scope_id = ?), "
            "(SELECT persona FROM personas WHERE scope = 'guild' AND scope_id = ?), "
            "(SELECT model FROM models WHERE scope = 'conversation' AND scope_id = ?), "
            "(SELECT model FROM models WHERE scope = 'channel' AND scope_id = ?), "
            "(SELECT model FROM models WHERE scope = 'guild' AND scope_id = ?)",
            (channel_id, guild_id, conversation_id, channel_id, guild_id),
        )
        return ScopedChoices(*row)

    # -- privacy ------------------------------------------------------------------------------

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
        # Every reasoning written after their first word in a conversation may quote them.
        await self.db.execute(
            f"WITH first AS (SELECT t.conversation_id, MIN(t.seq) AS seq FROM turns t WHERE "
            f"{theirs} GROUP BY t.conversation_id) UPDATE turns SET reasoning = NULL WHERE "
            "seq IN (SELECT a.seq FROM first f JOIN turns a ON a.conversation_id = "
            "f.conversation_id AND a.seq > f.seq WHERE a.role = 'assistant' AND a.reasoning "
            "IS NOT NULL)",
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
        await self.db.execute("DELETE FROM models WHERE scope = 'conversation' AND scope_id = ?",
                              (conversation_id,))  # fmt: skip
        return cursor.rowcount > 0

    async def delete_place(self, place_id: int) -> list[int]:
        ids = [
            row[0]
            for row in await self._all(
                "DELETE FROM conversations WHERE id = ?1 OR parent_id = ?1 OR parent_id IN "
                "(SELECT id FROM conversations WHERE parent_id = ?1) RETURNING id",
                (place_id,),
            )
        ]
        marks = ", ".join("?" * len(ids)) or "NULL"
        await self.db.execute(
            "DELETE FROM models WHERE (scope = 'channel' AND scope_id = ?) OR "
            f"(scope = 'conversation' AND scope_id IN ({marks}))",
            (place_id, *ids),
        )
        await self.db.execute(
            "DELETE FROM personas WHERE scope = 'channel' AND scope_id = ?", (place_id,)
        )
        return sorted(ids)

    async def delete_guild(self, guild_id: int) -> list[int]:
        ids = [
            row[0]
            for row in await self._all(
                "DELETE FROM conversations WHERE guild_id = ? RETURNING id", (guild_id,)
            )
        ]
        await self.db.execute("DELETE FROM usage WHERE guild_id = ?", (guild_id,))
        for table in ("personas", "models"):
            await self.db.execute(
                f"DELETE FROM {table} WHERE scope = 'guild' AND scope_id = ?", (guild_id,)
            )
        return ids

    async def delete_idle(self, before: dt.datetime) -> list[int]:
        stamp = before.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")  # CURRENT_TIMESTAMP's
        return [
            row[0]
            for row in await self._all(
                "DELETE FROM conversations WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM "
                "turns WHERE conversation_id = conversations.id AND created_at >= ?) RETURNING id",
                (stamp, stamp),
            )
        ]

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

    # -- processes ----------------------------------------------------------------------------

    async def heartbeat(self, worker: str, *, ago: float = 0.0) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, strftime(?, 'now', ?)) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"worker:{worker}", _STAMP, f"-{ago} seconds"),
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
        await self.db.execute("DELETE FROM meta WHERE key = ?", (f"worker:{worker}",))

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
        row = await self._one(query, params)
        return UsageTotals(*row) if row else UsageTotals()

    async def spent_by(self, *, user_id: int, day: dt.date) -> float:
        row = await self._one(
            "SELECT COALESCE(SUM(cost), 0) FROM usage WHERE day = ? AND user_id = ?",
            [day.isoformat(), user_id],
        )
        return float(row[0]) if row else 0.0
