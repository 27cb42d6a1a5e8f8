"""PostgreSQL implementation of :class:`~bot.core.store.Store` on an asyncpg pool.

The SQL mirrors :mod:`bot.services.store.sqlite.store` method for method, so a change to one is easy to carry to
the other. Dropped connections are handled in :mod:`bot.services.store.postgres.pool`: each query below says
whether running it twice is harmless (``retry``, on by default), so it may be retried once.
"""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from bot.core.settings import DEFAULT_POOL_SIZE, postgres_dsn, redacted_url
from bot.core.store import Conversation, Role, Scope, Turn, TurnStatus
from bot.services.store.postgres.extras import PostgresExtras
from bot.services.store.postgres.pool import Connections
from bot.services.store.postgres.schema import migrate, quote_identifier

_TURN_COLUMNS = "seq, conversation_id, message_id, role, content, author_name, tokens, status"
_CONVERSATION_COLUMNS = (
    "id, guild_id, parent_id, owner_id, persona, history_start, summary, summary_through, "
    "via_interaction"
)
_STATUS = {status.value: status for status in TurnStatus}
_NO_SEQ = 2**63 - 1  # "no upper bound" for seq

# The newest turns whose tokens fit a budget, plus the first one that does not. The running sum
# is an index-only scan of turns_by_conversation over a bounded window; only the turns that fit
# are then read, by primary key.
_WITHIN_QUERY = f"""
WITH recent AS (
    SELECT seq, tokens FROM turns
    WHERE conversation_id = $1 AND seq > $2 AND seq < $5
    ORDER BY seq DESC LIMIT $3
), running AS (
    SELECT seq, tokens, SUM(tokens) OVER (ORDER BY seq DESC ROWS UNBOUNDED PRECEDING) AS total
    FROM recent
)
SELECT {_TURN_COLUMNS} FROM turns
WHERE seq = ANY (ARRAY(SELECT seq FROM running WHERE total - tokens <= $4))
ORDER BY seq DESC
"""


def _turn(row: asyncpg.Record) -> Turn:
    seq, conversation_id, message_id, role, content, author_name, tokens, status = row
    return Turn(
        seq, conversation_id, message_id, role, content, author_name, tokens, _STATUS[status]
    )


class PostgresStore(PostgresExtras):
    """A pool of ``pool_size`` connections. ``schema`` (created if missing) holds the tables;
    ``application_name`` names the connections in ``pg_stat_activity``."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        schema: str | None = None,
        application_name: str = "threadbot",
    ) -> None:
        dsn, url_schema = postgres_dsn(url)
        self.schema = schema or url_schema
        settings = {"application_name": application_name}
        if self.schema is not None:
            settings["search_path"] = quote_identifier(self.schema)
        describe = redacted_url(dsn) + (f" (schema {self.schema})" if self.schema else "")
        self.db = Connections(dsn, size=pool_size, describe=describe, server_settings=settings)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.db.pool

    async def open(self) -> None:
        await self.db.open(
            lambda conn: migrate(conn, schema=self.schema, describe=self.db.describe)
        )

    async def close(self) -> None:
        await self.db.close()

    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        row = await self.db.fetchrow(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = $1", conversation_id
        )
        return Conversation(*row) if row else None

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
            f"RETURNING {_CONVERSATION_COLUMNS}",
            conversation_id, guild_id, parent_id, owner_id, via_interaction,
        )  # fmt: skip
        conversation = Conversation(*row) if row else await self.get_conversation(conversation_id)
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
        row = await self.db.fetchrow(
            "INSERT INTO turns (conversation_id, message_id, role, content, author_name, tokens, "
            "status, author_id, worker) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            f"ON CONFLICT (message_id) DO NOTHING RETURNING {_TURN_COLUMNS}",
            conversation_id, message_id, role, content, author_name, tokens, str(status),
            author_id, worker,
            # Keyed by the Discord message, a second insert is a no-op; without one it would
            # store the turn twice.
            retry=message_id is not None,
        )  # fmt: skip
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
            "UPDATE turns SET content = $1, tokens = $2, status = $3, "
            "message_id = COALESCE($4, message_id) WHERE seq = $5",
            content, tokens, str(status), message_id, seq,
        )  # fmt: skip

    async def edit_message(self, message_id: int, content: str, tokens: int) -> bool:
        count = await self.db.execute(
            "UPDATE turns SET content = $1, tokens = $2 WHERE message_id = $3 AND role = 'user'",
            content, tokens, message_id,
        )  # fmt: skip
        return count > 0

    async def user_turn(self, message_id: int) -> Turn | None:
        row = await self.db.fetchrow(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE message_id = $1 AND role = 'user'",
            message_id,
        )
        return _turn(row) if row else None

    async def delete_message(self, message_id: int) -> bool:
        count = await self.db.execute("DELETE FROM turns WHERE message_id = $1", message_id)
        return count > 0

    async def newest_turns(
        self, conversation_id: int, *, limit: int, before_seq: int | None = None
    ) -> list[Turn]:
        rows = await self.db.fetch(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE conversation_id = $1 AND seq < $2 AND seq > "
            "(SELECT history_start FROM conversations WHERE id = $1) ORDER BY seq DESC LIMIT $3",
            conversation_id, before_seq or _NO_SEQ, limit,
        )  # fmt: skip
        return [_turn(row) for row in rows]

    async def newest_turns_within(
        self, conversation_id: int, budget: int, *, after_seq: int, before_seq: int | None = None
    ) -> list[Turn]:
        # As in SQLite: a window of the newest turns that grows only while every turn in it
        # still fits, so the cost follows what is kept, not the length of the conversation.
        limit = max(64, budget // 100)  # a first guess of how many turns fit
        while True:
            rows = await self.db.fetch(
                _WITHIN_QUERY, conversation_id, after_seq, limit, budget, before_seq or _NO_SEQ
            )
            turns = [_turn(row) for row in rows]
            if len(turns) < limit or sum(turn.tokens for turn in turns) > budget:
                return turns
            limit *= 8

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

    async def turns_between(
        self, conversation_id: int, after_seq: int, through_seq: int
    ) -> list[Turn]:
        rows = await self.db.fetch(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE conversation_id = $1 AND seq > $2 "
            "AND seq <= $3 ORDER BY seq",
            conversation_id, after_seq, through_seq,
        )  # fmt: skip
        return [_turn(row) for row in rows]

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

    async def set_conversation_persona(self, conversation_id: int, persona: str | None) -> None:
        await self.db.execute(
            "UPDATE conversations SET persona = $1 WHERE id = $2", persona, conversation_id
        )

    async def set_default_persona(self, scope: Scope, scope_id: int, persona: str | None) -> None:
        if persona is None:
            await self.db.execute(
                "DELETE FROM personas WHERE scope = $1 AND scope_id = $2", str(scope), scope_id
            )
        else:
            await self.db.execute(
                "INSERT INTO personas (scope, scope_id, persona) VALUES ($1, $2, $3) "
                "ON CONFLICT (scope, scope_id) DO UPDATE SET persona = excluded.persona",
                str(scope), scope_id, persona,
            )  # fmt: skip

    async def interrupt_streaming_turns(self, *, live: Collection[str] = ()) -> list[Turn]:
        rows = await self.db.fetch(
            "WITH interrupted AS (UPDATE turns SET status = 'interrupted' "
            "WHERE status = 'streaming' AND (worker IS NULL OR NOT worker = ANY($1::text[])) "
            f"RETURNING {_TURN_COLUMNS}) SELECT * FROM interrupted ORDER BY seq",
            list(live),
        )
        return [_turn(row) for row in rows]

    async def delete_turn(self, seq: int) -> None:
        await self.db.execute("DELETE FROM turns WHERE seq = $1", seq)

    async def conversation_ids(self, limit: int) -> list[int]:
        rows = await self.db.fetch(
            "SELECT id FROM conversations WHERE NOT via_interaction ORDER BY id DESC LIMIT $1",
            limit,
        )
        return [row[0] for row in rows]

    async def attach_message(self, seq: int, message_id: int) -> None:
        await self.db.execute("UPDATE turns SET message_id = $1 WHERE seq = $2", message_id, seq)

    async def turns_after(self, after_seq: int, limit: int) -> list[Turn]:
        rows = await self.db.fetch(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE seq > $1 ORDER BY seq LIMIT $2",
            after_seq, limit,
        )  # fmt: skip
        return [_turn(row) for row in rows]

    async def set_token_counts(self, counts: list[tuple[int, int]]) -> None:
        pairs = [(tokens, seq) for seq, tokens in counts]
        await self.db.run(
            lambda conn: conn.executemany("UPDATE turns SET tokens = $1 WHERE seq = $2", pairs),
            retry=True,
        )

    async def get_meta(self, key: str) -> str | None:
        row = await self.db.fetchrow("SELECT value FROM meta WHERE key = $1", key)
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key, value,
        )  # fmt: skip
