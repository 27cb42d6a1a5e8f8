"""Crash recovery, in one place: which processes are alive, whose replies are orphaned, and what
a half-shown reply is mended to. (The chat cog, cogs/chat/recovery.py, carries it out in
Discord.)

Several processes on one database: each says it is alive, and replies that a dead one left
half-shown are taken over, interrupted and mended, by a survivor, as after a crash. A process
that starts takes over what dead processes left, and what it left itself before a restart (a
process is named by its shards, so a restarted one knows its own): a live one's are its own.

Mending is pure: given the reply's messages as the crash left them, :func:`mend` says what to
store and what each message should show."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core import texts
from bot.core.discord_limits import MESSAGE_LIMIT
from bot.core.render import CURSOR, close_open_fence
from bot.core.store import Store, Turn
from bot.core.texts import EN

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


@dataclass(frozen=True, slots=True)
class Mend:
    stored: str  # the assistant turn's text: what was shown of the answer
    contents: list[str]  # each message's new content, in order
    note_apart: bool  # the note did not fit under the last message: post it on its own


def unfinished(content: str, has_components: bool) -> bool:
    """A message still streaming when the process died: a cursor, or a live Stop button."""
    return content.endswith(CURSOR) or has_components


def mend(shown: list[str], note: str = EN.interrupted_by_restart) -> Mend:
    """``shown``: the reply's messages as left behind, first to last; ``note``: what to say
    under them, in the conversation's language."""
    parts = [content.removesuffix(CURSOR) for content in shown]
    answer = "".join(parts)
    if texts.is_placeholder(answer):  # "retrying…", "thinking…": never part of the answer
        answer, parts = "", [answer.strip()]
    last = f"{close_open_fence(parts[-1])}\n\n{note}"
    if len(last) <= MESSAGE_LIMIT:
        return Mend(answer, [*parts[:-1], last], note_apart=False)
    return Mend(answer, parts, note_apart=True)
