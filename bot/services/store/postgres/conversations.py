"""PostgreSQL: conversations, and how much of their history is re-sent (reset, eviction,
summary)."""

from __future__ import annotations

import asyncpg

from bot.core.store import Conversation
from bot.services.store.postgres.pool import PostgresConnection
from bot.services.store.rows import CONVERSATION_COLUMNS, first_column, to_conversation


class PostgresConversations(PostgresConnection):
    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        row = await self.db.fetchrow(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1", conversation_id
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
        row = await self.db.fetchrow(
            "INSERT INTO conversations (id, guild_id, parent_id, owner_id, via_interaction) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET via_interaction = FALSE, "
            "guild_id = excluded.guild_id, parent_id = excluded.parent_id, "
            "owner_id = excluded.owner_id "
            "WHERE conversations.via_interaction AND NOT excluded.via_interaction "
            f"RETURNING {CONVERSATION_COLUMNS}",
            conversation_id, guild_id, parent_id, owner_id, via_interaction,
        )  # fmt: skip
        conversation = to_conversation(row) if row else await self.get_conversation(conversation_id)
        assert conversation is not None
        return conversation

    async def conversation_ids(self, limit: int) -> list[int]:
        return first_column(
            await self.db.fetch(
                "SELECT id FROM conversations WHERE NOT via_interaction ORDER BY id DESC LIMIT $1",
                limit,
            )
        )

    async def reset_conversation(self, conversation_id: int) -> int:
        last = "(SELECT COALESCE(MAX(seq), 0) FROM turns WHERE conversation_id = $1)"

        async def work(conn: asyncpg.Connection) -> int:
            async with conn.transaction():
                through = await conn.fetchval(
                    f"UPDATE conversations SET summary = NULL, history_start = GREATEST("
                    f"history_start, {last}), summary_through = GREATEST(summary_through, "
                    f"history_start, {last}) WHERE id = $1 RETURNING history_start",
                    conversation_id,
                )
                if through is None:
                    return 0
                # The turns go, their images and reasoning with them.
                status = await conn.execute(
                    "DELETE FROM turns WHERE conversation_id = $1 AND seq <= $2",
                    conversation_id, through,
                )  # fmt: skip
                return int(status.split()[-1])

        return await self.db.run(work, retry=True)

    async def evict(self, conversation_id: int, through_seq: int) -> None:
        await self.db.execute(
            "UPDATE conversations SET history_start = GREATEST(history_start, $1) WHERE id = $2",
            through_seq, conversation_id,
        )  # fmt: skip

    async def save_summary(
        self, conversation_id: int, summary: str | None, through_seq: int
    ) -> bool:
        count = await self.db.execute(
            "UPDATE conversations SET summary = $1, summary_through = $2, "
            "history_start = GREATEST(history_start, $2) WHERE id = $3 AND summary_through < $2",
            summary, through_seq, conversation_id,
        )  # fmt: skip
        return count > 0
