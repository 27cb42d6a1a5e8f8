"""SQLite: the turns of conversations (what is said, the history a reply is built from, replies
left streaming by a crash), with their reasoning and images."""

from __future__ import annotations

from collections.abc import Collection

from bot.core.store import Image, Role, Turn, TurnStatus
from bot.services.store.rows import NO_SEQ, TURN_COLUMNS, fit_budget, image_rows, to_images, to_turn
from bot.services.store.sqlite.connection import SQLiteConnection

# The newest turns whose tokens fit a budget, plus the first one that does not (so the caller
# knows older turns exist, or can cut a single huge turn), among the newest few. The running
# sum runs in SQLite over an index (turns_by_conversation).
_WITHIN_QUERY = f"""
WITH recent AS (
    SELECT seq, tokens FROM turns
    WHERE conversation_id = ? AND seq > ? AND seq < ?
    ORDER BY seq DESC LIMIT ?
), running AS (
    SELECT seq, SUM(tokens) OVER (ORDER BY seq DESC ROWS UNBOUNDED PRECEDING) AS total
    FROM recent
)
SELECT {", ".join("t." + c for c in TURN_COLUMNS.split(", "))}
FROM running r JOIN turns t ON t.seq = r.seq
WHERE r.total - t.tokens <= ?
ORDER BY t.seq DESC
"""


class SQLiteTurns(SQLiteConnection):
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
            f"(message_id) DO NOTHING RETURNING {TURN_COLUMNS}",
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
            "UPDATE turns SET content = ?, tokens = ?, status = ?, "
            "message_id = COALESCE(?, message_id) WHERE seq = ?",
            (content, tokens, str(status), message_id, seq),
        )

    async def attach_message(self, seq: int, message_id: int) -> None:
        await self.db.execute("UPDATE turns SET message_id = ? WHERE seq = ?", (message_id, seq))

    async def edit_message(self, message_id: int, content: str, tokens: int) -> bool:
        cursor = await self.db.execute(
            "UPDATE turns SET content = ?, tokens = ? WHERE message_id = ? AND role = 'user'",
            (content, tokens, message_id),
        )
        return cursor.rowcount > 0

    async def user_turn(self, message_id: int) -> Turn | None:
        row = await self._one(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE message_id = ? AND role = 'user'",
            (message_id,),
        )
        return to_turn(row) if row else None

    async def delete_message(self, message_id: int) -> bool:
        cursor = await self.db.execute("DELETE FROM turns WHERE message_id = ?", (message_id,))
        return cursor.rowcount > 0

    async def delete_turn(self, seq: int) -> None:
        await self.db.execute("DELETE FROM turns WHERE seq = ?", (seq,))

    async def newest_turns(
        self, conversation_id: int, *, limit: int, before_seq: int | None = None
    ) -> list[Turn]:
        return [
            to_turn(row)
            for row in await self._all(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE conversation_id = ? AND seq < ? AND seq "
                "> (SELECT history_start FROM conversations WHERE id = ?) ORDER BY seq DESC "
                "LIMIT ?",
                (conversation_id, before_seq or NO_SEQ, conversation_id, limit),
            )
        ]

    async def newest_turns_within(
        self, conversation_id: int, budget: int, *, after_seq: int, before_seq: int | None = None
    ) -> list[Turn]:
        async def fetch(limit: int) -> list[Turn]:
            return [
                to_turn(row)
                for row in await self._all(
                    _WITHIN_QUERY,
                    (conversation_id, after_seq, before_seq or NO_SEQ, limit, budget),
                )
            ]

        return await fit_budget(fetch, budget)

    async def turns_between(
        self, conversation_id: int, after_seq: int, through_seq: int
    ) -> list[Turn]:
        return [
            to_turn(row)
            for row in await self._all(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE conversation_id = ? AND seq > ? AND seq "
                "<= ? ORDER BY seq",
                (conversation_id, after_seq, through_seq),
            )
        ]

    async def turns_after(self, after_seq: int, limit: int) -> list[Turn]:
        return [
            to_turn(row)
            for row in await self._all(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
        ]

    async def set_token_counts(self, counts: list[tuple[int, int]]) -> None:
        await self.db.executemany(
            "UPDATE turns SET tokens = ? WHERE seq = ?", [(tokens, seq) for seq, tokens in counts]
        )

    async def interrupt_streaming_turns(self, *, live: Collection[str] = ()) -> list[Turn]:
        marks = ", ".join("?" * len(live))
        others = f"AND (worker IS NULL OR worker NOT IN ({marks}))" if live else ""
        return [
            to_turn(row)
            for row in await self._all(
                f"UPDATE turns SET status = 'interrupted' WHERE status = 'streaming' {others} "
                f"RETURNING {TURN_COLUMNS}",
                tuple(live),
            )
        ]

    # -- kept apart from a turn's text ----------------------------------------------------------

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

    async def set_tools(self, seq: int, tools: str, tokens: int) -> None:
        # Guarded like the reasoning: the calls' arguments and results may quote what a
        # /forget or /reset deleted while the reply was being written.
        await self.db.execute(
            "UPDATE turns SET tools = ?, tools_tokens = ? WHERE seq = ? AND seq > (SELECT "
            "summary_through FROM conversations WHERE id = turns.conversation_id)",
            (tools, tokens, seq),
        )

    async def tools_of(self, seqs: list[int]) -> dict[int, tuple[str, int]]:
        if not seqs:
            return {}
        marks = ", ".join("?" * len(seqs))
        rows = await self._all(
            f"SELECT seq, tools, tools_tokens FROM turns WHERE seq IN ({marks}) "
            "AND tools IS NOT NULL",
            seqs,
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    async def add_images(self, seq: int, images: list[Image]) -> None:
        await self.db.executemany(
            "INSERT INTO images (seq, position, mime, data, width, height) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (seq, position) DO NOTHING",
            image_rows(seq, images),
        )

    async def images_of(self, seqs: list[int]) -> dict[int, list[Image]]:
        if not seqs:
            return {}
        marks = ", ".join("?" * len(seqs))
        return to_images(
            await self._all(
                f"SELECT seq, mime, data, width, height FROM images WHERE seq IN ({marks}) "
                "ORDER BY seq, position",
                seqs,
            )
        )
