"""Show a streaming reply in Discord: typing first, then one message edited as text arrives.

The decisions (how to split, when to touch Discord) are the core's (``bot.render``,
``bot.pacing``); this module only carries them out on real ``discord.Message`` objects. Edits are
coalesced: one call in flight per reply, and each call shows the latest text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import discord

from bot.pacing import Pacer
from bot.render import close_open_fence, display_parts

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
MAX_DISCORD_FAILURES = 5


@contextlib.asynccontextmanager
async def typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """The typing indicator, if Discord lets us show it; its failure never stops a reply."""
    indicator = channel.typing()
    try:
        await indicator.__aenter__()
    except discord.HTTPException:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(discord.HTTPException):
            await indicator.__aexit__(None, None, None)


class StopView(discord.ui.View):
    """A Stop button for the person who asked, or anyone who may manage messages."""

    def __init__(self, requester_id: int, on_stop: Callable[[], object]) -> None:
        super().__init__(timeout=None)
        self.requester_id = requester_id
        self.on_stop = on_stop

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        permissions = interaction.permissions
        if interaction.user.id == self.requester_id or permissions.manage_messages:
            return True
        await interaction.response.send_message(
            "Only the person who asked (or a moderator) can stop this reply.", ephemeral=True
        )
        return False

    @discord.ui.button(label="Stop", style=discord.ButtonStyle.secondary, emoji="⏹️")
    async def stop_button(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await interaction.response.defer()
        self.on_stop()


class ReplyStreamer:
    """Feed it text with :meth:`feed`; :meth:`finish` makes the last edit and waits for it."""

    def __init__(
        self,
        channel: discord.abc.Messageable,
        channel_id: int,
        pacer: Pacer,
        *,
        view: discord.ui.View | None = None,
        on_gone: Callable[[], object] | None = None,
        on_posted: Callable[[discord.Message], Awaitable[None]] | None = None,
    ) -> None:
        self.channel = channel
        self.channel_id = channel_id
        self.pacer = pacer
        self.view = view
        self.on_gone = on_gone
        self.on_posted = on_posted  # called with the first message, once posted
        self.text = ""
        self.note = ""
        self._placeholder = ""  # shown while there is no text yet (e.g. "retrying…")
        self.messages: list[discord.Message] = []
        self.gone = False  # a reply message was deleted: stop quietly
        self._shown: list[tuple[str, bool]] = []  # per message: content, has the view
        self._done = False
        self._changed = asyncio.Event()
        self._finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"reply-{self.channel_id}")

    def feed(self, delta: str) -> None:
        self.text += delta
        self._changed.set()

    async def finish(self, note: str = "") -> None:
        """Show the full text (plus an optional note), remove the button, wait until shown."""
        self.note = note
        self._done = True
        self._changed.set()
        self._finished.set()
        if self._task is not None:
            await self._task

    @property
    def placeholder(self) -> str:
        return self._placeholder

    @placeholder.setter
    def placeholder(self, value: str) -> None:
        self._placeholder = value
        self._changed.set()

    def _target(self) -> list[tuple[str, bool]]:
        text = self.text or ("" if self._done else self.placeholder)
        if self._done and self.note:  # e.g. "(stopped)", outside any code block left open
            text = f"{close_open_fence(text)}\n\n{self.note}" if text.strip() else self.note
        if not text:
            return []
        parts = display_parts(text, streaming=not self._done)
        with_view = self.view is not None and not self._done
        return [(part, with_view and i == len(parts) - 1) for i, part in enumerate(parts)]

    def _next_change(self) -> int | None:
        target = self._target()
        for index, wanted in enumerate(target):
            if index >= len(self._shown) or self._shown[index] != wanted:
                return index
        return None

    async def _run(self) -> None:
        try:
            await self._wait_for_text()
            failures = 0
            while not self.gone:
                index = self._next_change()
                if index is None:
                    if self._done:
                        return
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                is_edit = index < len(self.messages)
                if is_edit:
                    granted, delay = self.pacer.edit_slot(self.channel_id, final=self._done)
                    if not granted:  # the channel is busy: skip this progress edit
                        await self._wait_for_finish(delay)
                        continue
                    await asyncio.sleep(delay)
                # First posts and final edits go first when the process-wide budget is tight.
                granted, delay = self.pacer.request_slot(priority=self._done or not is_edit)
                if not granted:
                    await self._wait_for_finish(delay)
                    continue
                await asyncio.sleep(delay)
                try:
                    await self._apply(index)
                    failures = 0
                except discord.NotFound:
                    self._vanished()
                except discord.Forbidden:  # permissions changed mid-reply: retrying won't help
                    log.warning("No permission to show a reply in channel %s", self.channel_id)
                    self._vanished()
                except discord.HTTPException as exc:
                    failures += 1
                    log.warning("Discord refused a reply update (%s); retry %d", exc, failures)
                    if failures >= MAX_DISCORD_FAILURES:
                        raise
                    await asyncio.sleep(min(10.0, 0.5 * 2**failures))
        finally:
            if self.view is not None:
                self.view.stop()

    async def _wait_for_finish(self, at_most: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._finished.wait(), max(0.05, at_most))

    async def _wait_for_text(self) -> None:
        """Show the typing indicator until the first text (or the end) arrives."""
        granted, _ = self.pacer.request_slot()
        if not granted:  # the process is busy: skip the typing indicator
            return
        async with typing(self.channel):
            while not (self.text or self.placeholder or self._done):
                self._changed.clear()
                await self._changed.wait()

    async def _apply(self, index: int) -> None:
        target = self._target()  # the latest text, computed after the wait
        if index >= len(target):
            return
        content, with_view = target[index]
        view = self.view if with_view else None
        if index < len(self.messages):
            edited = await self.messages[index].edit(
                content=content, view=view, allowed_mentions=NO_MENTIONS
            )
            self.messages[index] = edited
            self._shown[index] = (content, with_view)
        else:
            kwargs = {"view": view} if view is not None else {}
            message = await self.channel.send(content, allowed_mentions=NO_MENTIONS, **kwargs)
            self.messages.append(message)
            self._shown.append((content, with_view))
            if len(self.messages) == 1 and self.on_posted is not None:
                await self.on_posted(message)

    def _vanished(self) -> None:
        log.info("A reply message in channel %s was deleted; stopping that reply", self.channel_id)
        self.gone = True
        if self.on_gone is not None:
            self.on_gone()
