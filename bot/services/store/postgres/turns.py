"""PostgreSQL: the turns of conversations (what is said, the history a reply is built from,
replies left streaming by a crash), with their reasoning and images."""

from __future__ import annotations

from collections.abc import Collection

from bot.core.store import Image, Role, Turn, TurnStatus
from bot.services.store.postgres.pool import PostgresConnection
from bot.services.store.rows import NO_SEQ, TURN_COLUMNS, fit_budget, image_rows, to_images, to_turn

# The newest turns whose tokens fit a budget, plus the first one that does not, among the newest
# few. The running sum is an index-only scan of turns_by_conversation over a bounded window; only
# the turns that fit are then read, by primary key.
_WITHIN_QUERY = f"""
WITH recent AS (
    SELECT seq, tokens FROM turns
    WHERE conversation_id = $1 AND seq > $2 AND seq < $5
    ORDER BY seq DESC LIMIT $3
), running AS (
    SELECT seq, tokens, SUM(tokens) OVER (ORDER BY seq DESC ROWS UNBOUNDED PRECEDING) AS total
    FROM recent
)
SELECT {TURN_COLUMNS} FROM turns
WHERE seq = ANY (ARRAY(SELECT seq FROM running WHERE total - tokens <= $4))
ORDER BY seq DESC
"""


class PostgresTurns(PostgresConnection):
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
            f"ON CONFLICT (message_id) DO NOTHING RETURNING {TURN_COLUMNS}",
            conversation_id, message_id, role, content, author_name, tokens, str(status),
            author_id, worker,
            # Keyed by the Discord message, a second insert is a no-op; without one it would
            # store the turn twice.
            retry=message_id is not None,
        )  # fmt: skip
        return to_turn(row) if row else None

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

    async def attach_message(self, seq: int, message_id: int) -> None:
        await self.db.execute("UPDATE turns SET message_id = $1 WHERE seq = $2", message_id, seq)

    async def edit_message(self, message_id: int, content: str, tokens: int) -> bool:
        count = await self.db.execute(
            "UPDATE turns SET content = $1, tokens = $2 WHERE message_id = $3 AND role = 'user'",
            content, tokens, message_id,
        )  # fmt: skip
        return count > 0

    async def user_turn(self, message_id: int) -> Turn | None:
        row = await self.db.fetchrow(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE message_id = $1 AND role = 'user'",
            message_id,
        )
        return to_turn(row) if row else None

    async def delete_message(self, message_id: int) -> bool:
        count = await self.db.execute("DELETE FROM turns WHERE message_id = $1", message_id)
        return count > 0

    async def delete_turn(self, seq: int) -> None:
        await self.db.execute("DELETE FROM turns WHERE seq = $1", seq)

    async def newest_turns(
        self, conversation_id: int, *, limit: int, before_seq: int | None = None
    ) -> list[Turn]:
        rows = await self.db.fetch(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE conversation_id = $1 AND seq < $2 AND seq > "
            "(SELECT history_start FROM conversations WHERE id = $1) ORDER BY seq DESC LIMIT $3",
            conversation_id, before_seq or NO_SEQ, limit,
        )  # fmt: skip
        return [to_turn(row) for row in rows]

    async def newest_turns_within(
        self, conversation_id: int, budget: int, *, after_seq: int, before_seq: int | None = None
    ) -> list[Turn]:
        async def fetch(limit: int) -> list[Turn]:
            rows = await self.db.fetch(
                _WITHIN_QUERY, conversation_id, after_seq, limit, budget, before_seq or NO_SEQ
            )
            return [to_turn(row) for row in rows]

        return await fit_budget(fetch, budget)

    async def turns_between(
        self, conversation_id: int, after_seq: int, through_seq: int
    ) -> list[Turn]:
        rows = await self.db.fetch(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE conversation_id = $1 AND seq > $2 "
            "AND seq <= $3 ORDER BY seq",
            conversation_id, after_seq, through_seq,
        )  # fmt: skip
        return [to_turn(row) for row in rows]

    async def turns_after(self, after_seq: int, limit: int) -> list[Turn]:
        rows = await self.db.fetch(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE seq > $1 ORDER BY seq LIMIT $2",
            after_seq, limit,
        )  # fmt: skip
        return [to_turn(row) for row in rows]

    async def set_token_counts(self, counts: list[tuple[int, int]]) -> None:
        pairs = [(tokens, seq) for seq, tokens in counts]
        await self.db.run(
            lambda conn: conn.executemany("UPDATE turns SET tokens = $1 WHERE seq = $2", pairs),
            retry=True,
        )

    async def interrupt_streaming_turns(self, *, live: Collection[str] = ()) -> list[Turn]:
        rows = await self.db.fetch(
            "WITH interrupted AS (UPDATE turns SET status = 'interrupted' "
            "WHERE status = 'streaming' AND (worker IS NULL OR NOT worker = ANY($1::text[])) "
            f"RETURNING {TURN_COLUMNS}) SELECT * FROM interrupted ORDER BY seq",
            list(live),
        )
        return [to_turn(row) for row in rows]

    # -- kept apart from a turn's text ----------------------------------------------------------

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

    async def set_tools(self, seq: int, tools: str, tokens: int) -> None:
        # Guarded like the reasoning: the calls' arguments and results may quote what a
        # /forget or /reset deleted while the reply was being written.
        await self.db.execute(
            "UPDATE turns SET tools = $1, tools_tokens = $2 WHERE seq = $3 AND seq > (SELECT "
            "summary_through FROM conversations WHERE id = turns.conversation_id)",
            tools, tokens, seq,
        )  # fmt: skip

    async def tools_of(self, seqs: list[int]) -> dict[int, tuple[str, int]]:
        if not seqs:
            return {}
        rows = await self.db.fetch(
            "SELECT seq, tools, tools_tokens FROM turns WHERE seq = ANY($1::bigint[]) "
            "AND tools IS NOT NULL",
            seqs,
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    async def add_images(self, seq: int, images: list[Image]) -> None:
        rows = image_rows(seq, images)
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
        return to_images(
            await self.db.fetch(
                "SELECT seq, mime, data, width, height FROM images WHERE seq = ANY($1::bigint[]) "
                "ORDER BY seq, position",
                seqs,
            )
        )
