"""Several processes on one database: each says it is alive, and replies that a dead one left
half-shown are taken over, interrupted and mended, by a survivor, as after a crash. A process
that starts takes over what dead processes left, and what it left itself before a restart (a
process is named by its shards, so a restarted one knows its own): a live one's are its own."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from bot.core.store import Store, Turn

log = logging.getLogger(__name__)

BEAT_EVERY = 15.0  # seconds between heartbeats
DEAD_AFTER = 60.0  # a process not heard from for this long is dead
ADOPT_EVERY = 4  # heartbeats between looks for a dead process's replies

Orphans = Callable[[list[Turn]], Awaitable[None]]


def name_for(shard_ids: tuple[int, ...] | None) -> str:
    """The same after a restart: by the shards a process runs ("main" when not sharded)."""
    return "main" if shard_ids is None else "shards-" + ",".join(map(str, shard_ids))


class Workers:
    def __init__(
        self,
        store: Store,
        *,
        name: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.name = name or uuid.uuid4().hex[:12]
        self.sleep = sleep
        self.on_orphans: Orphans | None = None  # the chat cog mends their messages

    async def beat(self) -> None:
        """Say this process is alive, at the database's clock: processes whose clocks disagree
        still agree on who is alive."""
        await self.store.heartbeat(self.name)

    async def live(self) -> set[str]:
        return {*await self.store.live_workers(DEAD_AFTER), self.name}

    async def adopt_orphans(self, *, starting: bool = False) -> list[Turn]:
        """Interrupt the replies of processes that are no more (and, ``starting``, this one's
        own from before its restart); the turns, to mend."""
        live = await self.live()
        if starting:
            live.discard(self.name)
        orphans = await self.store.interrupt_streaming_turns(live=live)
        if orphans:
            log.info("Took over %d replies that a stopped process left unfinished", len(orphans))
        return orphans

    async def run(self) -> None:
        """Heartbeats, and now and then a look for a dead process's replies."""
        beats = 0
        while True:
            await self.sleep(BEAT_EVERY)
            beats += 1
            try:
                await self.beat()
                if beats % ADOPT_EVERY == 0:
                    orphans = await self.adopt_orphans()
                    if orphans and self.on_orphans is not None:
                        await self.on_orphans(orphans)
            except Exception:
                log.exception("Heartbeat failed; trying again")

    async def retire(self) -> None:
        await self.store.retire(self.name)
