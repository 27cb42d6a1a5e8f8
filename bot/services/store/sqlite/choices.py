"""SQLite: the personas and models chosen for a conversation, a channel or a server."""

from __future__ import annotations

from bot.core.store import Scope, ScopedChoices, ToolSwitches
from bot.services.store.rows import to_choices, to_switches
from bot.services.store.sqlite.connection import SQLiteConnection


class SQLiteChoices(SQLiteConnection):
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
            "SELECT (SELECT persona FROM personas WHERE scope = 'channel' AND scope_id = ?2), "
            "(SELECT persona FROM personas WHERE scope = 'guild' AND scope_id = ?3), "
            "(SELECT model FROM models WHERE scope = 'conversation' AND scope_id = ?1), "
            "(SELECT model FROM models WHERE scope = 'channel' AND scope_id = ?2), "
            "(SELECT model FROM models WHERE scope = 'guild' AND scope_id = ?3), "
            "(SELECT enabled FROM voices WHERE scope = 'conversation' AND scope_id = ?1), "
            "(SELECT enabled FROM voices WHERE scope = 'channel' AND scope_id = ?2), "
            "(SELECT enabled FROM voices WHERE scope = 'guild' AND scope_id = ?3)",
            (conversation_id, channel_id, guild_id),
        )
        return to_choices(row)

    async def set_tool_switch(
        self, scope: Scope, scope_id: int, server: str, on: bool | None
    ) -> None:
        if on is None:
            await self.db.execute(
                "DELETE FROM tool_switches WHERE scope = ? AND scope_id = ? AND server = ?",
                (str(scope), scope_id, server),
            )
        else:
            await self.db.execute(
                "INSERT INTO tool_switches (scope, scope_id, server, enabled) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (scope, scope_id, server) DO UPDATE SET enabled = excluded.enabled",
                (str(scope), scope_id, server, on),
            )

    async def tool_switches(self, *, channel_id: int | None, guild_id: int | None) -> ToolSwitches:
        rows = await self._all(
            "SELECT scope, server, enabled FROM tool_switches "
            "WHERE (scope = 'channel' AND scope_id = ?) OR (scope = 'guild' AND scope_id = ?)",
            (channel_id, guild_id),
        )
        return to_switches(rows)

    async def set_voice(self, scope: Scope, scope_id: int, on: bool | None) -> None:
        if on is None:
            await self.db.execute(
                "DELETE FROM voices WHERE scope = ? AND scope_id = ?", (str(scope), scope_id)
            )
        else:
            await self.db.execute(
                "INSERT INTO voices (scope, scope_id, enabled) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, scope_id) DO UPDATE SET enabled = excluded.enabled",
                (str(scope), scope_id, on),
            )
