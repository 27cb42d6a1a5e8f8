"""SQLite: conversations, and how much of their history is re-sent (reset, eviction, summary)."""

from __future__ import annotations

from bot.core.store import Conversation
from bot.services.store.rows import CONVERSATION_COLUMNS, first_column, to_conversation
from bot.services.store.sqlite.connection import SQLiteConnection

_LAST = "(SELECT COALESCE(MAX(seq), 0) FROM turns WHERE conversation_id = ?1)"


class SQLiteConversations(SQLiteConnection):
    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        row = await self._one(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        )
        return to_conversation(row) if row else None

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
            f"RETURNING {CONVERSATION_COLUMNS}",
            (conversation_id, guild_id, parent_id, owner_id, via_interaction),
        )
        conversation = to_conversation(row) if row else await self.get_conversation(conversation_id)
        assert conversation is not None
        return conversation

    async def conversation_ids(self, limit: int) -> list[int]:
        return first_column(
            await self._all(
                "SELECT id FROM conversations WHERE NOT via_interaction ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        )

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
