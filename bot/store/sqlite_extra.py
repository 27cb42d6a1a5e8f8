"""SQLite: the store's methods for reasoning, images and model choices (kept apart from
:mod:`bot.store.sqlite` so each module stays small)."""

from __future__ import annotations

import aiosqlite

from .base import Image, ModelScope


class SQLiteExtras:
    """Mixed into :class:`~bot.store.sqlite.SQLiteStore`, which provides ``db``."""

    db: aiosqlite.Connection

    async def set_reasoning(self, seq: int, reasoning: str) -> None:
        await self.db.execute("UPDATE turns SET reasoning = ? WHERE seq = ?", (reasoning, seq))

    async def get_reasoning(self, seq: int) -> str | None:
        async with self.db.execute("SELECT reasoning FROM turns WHERE seq = ?", (seq,)) as cursor:
            row = await cursor.fetchone()
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
        async with self.db.execute(
            f"SELECT seq, mime, data, width, height FROM images WHERE seq IN ({marks}) "
            "ORDER BY seq, position",
            seqs,
        ) as cursor:
            for seq, mime, data, width, height in await cursor.fetchall():
                found.setdefault(seq, []).append(Image(mime, bytes(data), width, height))
        return found

    async def set_model(self, scope: ModelScope, scope_id: int, model: str | None) -> None:
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

    async def get_model(self, scope: ModelScope, scope_id: int) -> str | None:
        async with self.db.execute(
            "SELECT model FROM models WHERE scope = ? AND scope_id = ?", (str(scope), scope_id)
        ) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None
