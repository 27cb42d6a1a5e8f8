"""What the bot keeps, and how it forgets: a person's data on request, a deleted thread's
conversation, a server's data when the bot is removed from it, and idle conversations after the
retention period. Discord-free."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable

from bot.core.context import api_name
from bot.core.conversation_index import ConversationIndex
from bot.core.store import Store

log = logging.getLogger(__name__)

LEFT_KEY = "guilds_left"  # meta: servers the bot was removed from, and when (UTC, ISO 8601)
SWEEP_EVERY = 3600.0  # seconds between retention sweeps


def legacy_names(names: Iterable[str]) -> list[str]:
    """Display names as the store kept them (the API's ``name`` form), without the generic
    fallback that many people share (names with no Latin letters or digits)."""
    fallback = api_name("")
    return sorted({api_name(n) for n in names if n} - {fallback})


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Privacy:
    def __init__(
        self,
        store: Store,
        index: ConversationIndex,
        *,
        retention_days: int = 0,
        guild_data_days: int = 0,
        now: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.index = index
        self.retention_days = retention_days  # 0: keep conversations however idle
        self.guild_data_days = guild_data_days  # 0: delete a server's data once the bot leaves
        self.now = now
        self._unpurged = False  # a purge could not finish: the next sweep tries again

    async def forget_user(self, user_id: int, names: Iterable[str] = ()) -> int:
        """Everything stored from one person; the number of their messages deleted. ``names``:
        the names they are known by, to find what they said before the store kept author ids
        (see :meth:`Store.forget_user`)."""
        deleted = await self.store.forget_user(user_id, names=legacy_names(names))
        await self.purge()
        log.info("Forgot a user's data on request (%d messages)", deleted)
        return deleted

    async def conversation_deleted(self, conversation_id: int) -> None:
        """Its thread (or DM) is gone, or it was left: so is the conversation."""
        if await self.store.delete_conversation(conversation_id):
            self.index.forget(conversation_id)
            await self.purge()

    async def place_deleted(self, place_id: int) -> list[int]:
        """A channel or thread was deleted: every conversation kept under it goes (a thread's
        own, threads opened from a channel, messages answered on their own in a thread)."""
        ids = await self.store.delete_place(place_id)
        for conversation_id in ids:
            self.index.forget(conversation_id)
        if ids:
            await self.purge()
            log.info("Deleted %d conversations of deleted channel %s", len(ids), place_id)
        return ids

    async def purge(self) -> bool:
        """Make what was deleted unrecoverable from the database files; when the engine can't
        now (SQLite's log in use), the next sweep tries again."""
        self._unpurged = not await self.store.purge()
        return not self._unpurged

    async def guild_left(self, guild_id: int) -> None:
        if self.guild_data_days == 0:
            await self._delete_guild(guild_id)
            return
        left = await self._left()
        left[str(guild_id)] = self.now().isoformat()
        await self.store.set_meta(LEFT_KEY, json.dumps(left))

    async def guild_joined(self, guild_id: int) -> None:
        """Back within the grace period: keep its data."""
        left = await self._left()
        if left.pop(str(guild_id), None) is not None:
            await self.store.set_meta(LEFT_KEY, json.dumps(left))

    async def sweep(self) -> None:
        """Delete what has outlived its period: idle conversations, servers left long ago."""
        now = self.now()
        ids: list[int] = []
        if self.retention_days:
            ids = await self.store.delete_idle(now - dt.timedelta(days=self.retention_days))
            for conversation_id in ids:
                self.index.forget(conversation_id)
            if ids:
                log.info("Deleted %d conversations idle for %d days", len(ids), self.retention_days)
        left = await self._left()
        due = [g for g, when in left.items()
               if now - dt.datetime.fromisoformat(when) >= dt.timedelta(days=self.guild_data_days)]  # fmt: skip
        for guild_id in due:
            await self._delete_guild(int(guild_id), purge=False)
            left.pop(guild_id)
        if due:
            await self.store.set_meta(LEFT_KEY, json.dumps(left))
        if ids or due or self._unpurged:  # nothing deleted, nothing to purge
            await self.purge()

    async def run(self) -> None:
        """Sweep now and then, for the life of the process."""
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("The retention sweep failed; trying again later")
            await asyncio.sleep(SWEEP_EVERY)

    async def _delete_guild(self, guild_id: int, *, purge: bool = True) -> None:
        for conversation_id in await self.store.delete_guild(guild_id):
            self.index.forget(conversation_id)
        if purge:
            await self.purge()
        log.info("Deleted the data of server %s, which removed the bot", guild_id)

    async def _left(self) -> dict[str, str]:
        return json.loads(await self.store.get_meta(LEFT_KEY) or "{}")
