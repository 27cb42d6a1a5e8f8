"""SQLite implementation of :class:`~bot.core.store.Store` on aiosqlite.

WAL mode and a busy timeout let several connections (or a second process) write safely; the schema
is versioned with ``PRAGMA user_version`` and each migration runs in one transaction, so a failure
leaves the file as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Collection
from pathlib import Path

import aiosqlite

from bot.core.store import Conversation, Role, Scope, StoreError, Turn, TurnStatus
from bot.services.store.sqlite.extras import SQLiteExtras
from bot.services.store.sqlite.schema import migrate

log = logging.getLogger(__name__)


_TURN_COLUMNS = "seq, conversation_id, message_id, role, content, author_name, tokens, status"
_STATUS = {status.value: status for status in TurnStatus}
_NO_SEQ = 2**63 - 1  # "no upper bound" for seq

_LAST = "(SELECT COALESCE(MAX(seq), 0) FROM turns WHERE conversation_id = ?1)"
_CONVERSATION_COLUMNS = (
    "id, guild_id, parent_id, owner_id, persona, history_start, summary, summary_through, "
    "via_interaction"
)

# The newest turns whose tokens fit a budget, plus the first one that does not (so the caller
# knows older turns exist, or can cut a single huge turn). The last column is the running total.
_WITHIN_QUERY = f"""
WITH recent AS (
    SELECT seq, tokens FROM turns
    WHERE conversation_id = ? AND seq > ? AND seq < ?
    ORDER BY seq DESC LIMIT ?
), running AS (
    SELECT seq, SUM(tokens) OVER (ORDER BY seq DESC ROWS UNBOUNDED PRECEDING) AS total
    FROM recent
)
SELECT {", ".join("t." + c for c in _TURN_COLUMNS.split(", "))}, r.total
FROM running r JOIN turns t ON t.seq = r.seq
WHERE r.total - t.tokens <= ?
ORDER BY t.seq DESC
"""


def _turn(row: sqlite3.Row | tuple) -> Turn:
    seq, conversation_id, message_id, role, content, author_name, tokens, status = row
    return Turn(
        seq, conversation_id, message_id, role, content, author_name, tokens, _STATUS[status]
    )


def _create_private(path: Path) -> None:
    """A new database file readable by its owner only (0600): SQLite gives the write-ahead log
    and shared-memory files the database file's mode. An existing file keeps its mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _conversation(row: sqlite3.Row | tuple) -> Conversation:
    *values, via_interaction = row
    return Conversation(*values, via_interaction=bool(via_interaction))


class SQLiteStore(SQLiteExtras):
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

    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        row = await self._one(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        )
        return _conversation(row) if row else None

    async def create_conversation(
        self,
        conversation_id: int,
        *,
        guild_id: int | None,
        parent_id: int | None,
        owner_id: int,
        via_interaction: bool = False,
    ) -> Conversation:
        row = await self._one(
            "INSERT INTO conversations (id, guild_id, parent_id, owner_id, via_interaction) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET via_interaction = 0, "
            "guild_id = excluded.guild_id, parent_id = excluded.parent_id, "
            "owner_id = excluded.owner_id "
            "WHERE conversations.via_interaction AND NOT excluded.via_interaction "
            f"RETURNING {_CONVERSATION_COLUMNS}",
            (conversation_id, guild_id, parent_id, owner_id, via_interaction),
        )
        conversation = _conversation(row) if row else await self.get_conversation(conversation_id)
        assert conversation is not None
        return conversation

    async def add_turn(
        self,
        conversation_id: int,
        *,
        role: Role,
        content: str,
        tokens: int,
        message_id: int | None = None,
        author_name: str | None = None,
        status: TurnStatus = TurnStatus.COMPLETE,
        author_id: int | None = None,
        worker: str | None = None,
    ) -> Turn | None:
        row = await self._one(
            "INSERT INTO turns (conversation_id, message_id, role, content, author_name, tokens, "
            "status, author_id, worker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
            f"(message_id) DO NOTHING RETURNING {_TURN_COLUMNS}",
            (
                conversation_id,
                message_id,
                role,
                content,
                author_name,
                tokens,
                str(status),
                author_id,
                worker,
            ),
        )
        return _turn(row) if row else None

    async def update_turn(
        self,
        seq: int,
        *,
        content: str,
        tokens: int,
        status: TurnStatus,
        message_id: int | None = None,
    ) -> None:
        await self.db.execute(
            "UPDATE turns SET content = ?, tokens = ?, status = ?, "
            "message_id = COALESCE(?, message_id) WHERE seq = ?",
            (content, tokens, str(status), message_id, seq),
        )

    async def edit_message(self, message_id: int, content: str, tokens: int) -> bool:
        cursor = await self.db.execute(
            "UPDATE turns SET content = ?, tokens = ? WHERE message_id = ? AND role = 'user'",
            (content, tokens, message_id),
        )
        return cursor.rowcount > 0

    async def user_turn(self, message_id: int) -> Turn | None:
        row = await self._one(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE message_id = ? AND role = 'user'",
            (message_id,),
        )
        return _turn(row) if row else None

    async def delete_message(self, message_id: int) -> bool:
        cursor = await self.db.execute("DELETE FROM turns WHERE message_id = ?", (message_id,))
        return cursor.rowcount > 0

    async def newest_turns(
        self, conversation_id: int, *, limit: int, before_seq: int | None = None
    ) -> list[Turn]:
        return [
            _turn(row)
            for row in await self._all(
                f"SELECT {_TURN_COLUMNS} FROM turns WHERE conversation_id = ? AND seq < ? AND seq "
                "> (SELECT history_start FROM conversations WHERE id = ?) ORDER BY seq DESC "
                "LIMIT ?",
                (conversation_id, before_seq or _NO_SEQ, conversation_id, limit),
            )
        ]

    async def newest_turns_within(
        self, conversation_id: int, budget: int, *, after_seq: int, before_seq: int | None = None
    ) -> list[Turn]:
        # The running sum runs in SQLite over an index, on a bounded window of the newest turns
        # that grows only while every turn in it still fits: the cost follows what is kept,
        # not the length of the conversation.
        limit = max(64, budget // 100)  # a first guess of how many turns fit
        while True:
            rows = await self._all(
                _WITHIN_QUERY, (conversation_id, after_seq, before_seq or _NO_SEQ, limit, budget)
            )
            if len(rows) < limit or rows[-1][-1] > budget:
                return [_turn(row[:-1]) for row in rows]
            limit *= 8

    async def reset_conversation(self, conversation_id: int) -> int:
        # Two statements, no transaction held across awaits (the connection is shared): the
        # turns are no longer sent once the first has run; the second deletes them, their
        # images and reasoning with them.
        row = await self._one(
            f"UPDATE conversations SET summary = NULL, history_start = MAX(history_start, "
            f"{_LAST}), summary_through = MAX(summary_through, history_start, {_LAST}) "
            "WHERE id = ?1 RETURNING history_start",
            (conversation_id,),
        )
        if row is None:
            return 0
        cursor = await self.db.execute(
            "DELETE FROM turns WHERE conversation_id = ? AND seq <= ?", (conversation_id, row[0])
        )
        return cursor.rowcount

    async def turns_between(
        self, conversation_id: int, after_seq: int, through_seq: int
    ) -> list[Turn]:
        return [
            _turn(row)
            for row in await self._all(
                f"SELECT {_TURN_COLUMNS} FROM turns WHERE conversation_id = ? AND seq > ? AND seq "
                "<= ? ORDER BY seq",
                (conversation_id, after_seq, through_seq),
            )
        ]

    async def evict(self, conversation_id: int, through_seq: int) -> None:
        await self.db.execute(
            "UPDATE conversations SET history_start = MAX(history_start, ?) WHERE id = ?",
            (through_seq, conversation_id),
        )

    async def save_summary(
        self, conversation_id: int, summary: str | None, through_seq: int
    ) -> bool:
        cursor = await self.db.execute(
            "UPDATE conversations SET summary = ?, summary_through = ?, "
            "history_start = MAX(history_start, ?) WHERE id = ? AND summary_through < ?",
            (summary, through_seq, through_seq, conversation_id, through_seq),
        )
        return cursor.rowcount > 0

    async def set_conversation_persona(self, conversation_id: int, persona: str | None) -> None:
        await self.db.execute(
            "UPDATE conversations SET persona = ? WHERE id = ?", (persona, conversation_id)
        )

    async def set_default_persona(self, scope: Scope, scope_id: int, persona: str | None) -> None:
        if persona is None:
            await self.db.execute(
                "DELETE FROM personas WHERE scope = ? AND scope_id = ?", (str(scope), scope_id)
            )
        else:
            await self.db.execute(
                "INSERT INTO personas (scope, scope_id, persona) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, scope_id) DO UPDATE SET persona = excluded.persona",
                (str(scope), scope_id, persona),
            )

    async def interrupt_streaming_turns(self, *, live: Collection[str] = ()) -> list[Turn]:
        marks = ", ".join("?" * len(live))
        others = f"AND (worker IS NULL OR worker NOT IN ({marks}))" if live else ""
        return [
            _turn(row)
            for row in await self._all(
                f"UPDATE turns SET status = 'interrupted' WHERE status = 'streaming' {others} "
                f"RETURNING {_TURN_COLUMNS}",
                tuple(live),
            )
        ]

    async def delete_turn(self, seq: int) -> None:
        await self.db.execute("DELETE FROM turns WHERE seq = ?", (seq,))

    async def conversation_ids(self, limit: int) -> list[int]:
        return [
            row[0]
            for row in await self._all(
                "SELECT id FROM conversations WHERE NOT via_interaction ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        ]

    async def attach_message(self, seq: int, message_id: int) -> None:
        await self.db.execute("UPDATE turns SET message_id = ? WHERE seq = ?", (message_id, seq))

    async def turns_after(self, after_seq: int, limit: int) -> list[Turn]:
        return [
            _turn(row)
            for row in await self._all(
                f"SELECT {_TURN_COLUMNS} FROM turns WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
        ]

    async def set_token_counts(self, counts: list[tuple[int, int]]) -> None:
        await self.db.executemany(
            "UPDATE turns SET tokens = ? WHERE seq = ?", [(tokens, seq) for seq, tokens in counts]
        )

    async def get_meta(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
