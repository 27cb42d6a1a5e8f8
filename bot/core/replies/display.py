"""Show a streaming reply: typing first, then one message edited as text arrives, split into
more messages at Discord's length limit.

Where to split is :mod:`bot.core.render`'s decision, when to touch the platform is
:class:`~bot.core.pacing.Pacer`'s; this class carries both out on a :class:`Surface`. Edits are
coalesced: one call in flight per reply, and each call shows the latest text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from bot.core.pacing import Pacer
from bot.core.render import display_parts, fit, split_parts, with_note
from bot.core.replies.surface import STOP, Button, Failed, Gone, Refused, Surface
from bot.core.rest_budget import low_priority

log = logging.getLogger(__name__)

MAX_FAILURES = 5  # transient failures in a row before the reply gives up on showing more
# Seconds without text before the typing indicator shows. Most models answer sooner, and then
# the indicator would only spend a request from the REST budget that first posts need.
TYPING_AFTER = 1.0


class Display:
    """Feed it text with :meth:`feed`; :meth:`finish` makes the last edit and waits for it."""

    def __init__(
        self,
        surface: Surface,
        pacer: Pacer,
        *,
        button: Button | None = STOP,
        on_gone: Callable[[], object] | None = None,
        on_posted: Callable[[int], Awaitable[None]] | None = None,
        reply_to: Callable[[], int | None] | None = None,
        max_messages: int | None = None,
        on_full: Callable[[], object] | None = None,
        typing_after: float = TYPING_AFTER,
        post_slot: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.surface = surface
        self.pacer = pacer
        self.button = button  # on the last message while streaming
        self.final_button: Button | None = None  # on the last message once done
        self.on_gone = on_gone
        self.on_posted = on_posted  # called with the first message's id, once posted
        self.reply_to = reply_to  # asked once, at the first post
        self.max_messages = max_messages  # the most the surface takes for one reply
        self.on_full = on_full  # called once when the text needs more than that: cut it short
        self.typing_after = typing_after
        self.post_slot = (
            post_slot  # holds a REST slot for the post made in it (bot.core.rest_budget)
        )
        self.text = ""
        self.note = ""
        self.heading = ""  # a line above the text, kept in the final message (what was heard)
        self.messages: list[int] = []
        self.gone = False  # a reply message was deleted, or may not be posted: stop
        self.refused: str | None = None  # the permission that Discord says is missing
        self._placeholder = ""  # shown while there is no text yet (e.g. "retrying…")
        self._activity = ""  # shown above the text while streaming (the tool calls' lines)
        self._shown: list[tuple[str, Button | None]] = []  # per message: content, button
        self._done = False
        self._full = False
        self._changed = asyncio.Event()
        self._finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._typing: asyncio.Task[None] | None = None

    @property
    def channel_id(self) -> int:
        return self.surface.channel_id

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"display-{self.channel_id}")

    def feed(self, delta: str) -> None:
        self.text += delta
        self._changed.set()

    @property
    def placeholder(self) -> str:
        return self._placeholder

    @placeholder.setter
    def placeholder(self, value: str) -> None:
        self._placeholder = value
        self._changed.set()

    @property
    def activity(self) -> str:
        return self._activity

    @activity.setter
    def activity(self, value: str) -> None:
        """Lines shown above the text while the reply streams (tool calls as they run), gone
        from the final message."""
        self._activity = value
        self._changed.set()

    @property
    def shown_anything(self) -> bool:
        return bool(self.messages)

    @property
    def overflowing(self) -> bool:
        """The text needs more messages than the surface takes for one reply."""
        return self.max_messages is not None and len(split_parts(self.text)) > self.max_messages

    def kept(self, note: str) -> str:
        """The text shown once finished with ``note``: all of it, unless the surface takes too
        few messages, when it is cut short to leave room for the note (and the heading)."""
        if self.max_messages is None:
            return self.text
        room = f"{self.heading}\n{note}" if self.heading else note
        return fit(self.text, room, self.max_messages)

    async def finish(self, note: str = "") -> None:
        """Show the full text (plus an optional note), remove the button, wait until shown.
        Raises :class:`Failed` if the platform kept failing."""
        self.note = note
        self._done = True
        self._changed.set()
        self._finished.set()
        if self._task is None:
            self.start()
        assert self._task is not None
        await self._task

    def _target(self) -> list[tuple[str, Button | None]]:
        if self._done:  # with its note (e.g. "(stopped)"), outside any code block left open
            text = with_note(self.kept(self.note), self.note)
        else:
            text = self.text or self.placeholder
            if self.activity:
                text = f"{self.activity}\n\n{text}" if text else self.activity
        if self.heading and text:
            text = f"{self.heading}\n{text}"
        if not text:
            return []
        parts = display_parts(text, streaming=not self._done)
        if self.max_messages is not None and len(parts) > self.max_messages:
            parts = parts[: self.max_messages]  # streaming: the rest will not be shown
            if not self._full and self.on_full is not None:
                self._full = True
                self.on_full()
        button = self.final_button if self._done else self.button
        return [(part, button if i == len(parts) - 1 else None) for i, part in enumerate(parts)]

    def _next_change(self) -> int | None:
        target = self._target()
        for index, wanted in enumerate(target):
            if index >= len(self._shown) or self._shown[index] != wanted:
                return index
        return None

    async def _run(self) -> None:
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
            if not await self._slot(is_edit=is_edit):
                continue
            try:
                if self._progress(is_edit):
                    with low_priority():
                        await self._apply(index)
                elif is_edit:
                    await self._apply(index)
                else:
                    await self._post(index)
                failures = 0
            except Gone:
                self._vanished()
            except Refused as exc:  # permissions changed: retrying won't help
                log.warning("No permission to show a reply in %s: %s", self.channel_id, exc)
                self.refused = exc.permission
                self._vanished()
            except Failed as exc:
                failures += 1
                log.warning("Discord refused a reply update (%s); retry %d", exc, failures)
                if failures >= MAX_FAILURES:
                    raise
                await asyncio.sleep(min(10.0, 0.5 * 2**failures))

    async def _slot(self, *, is_edit: bool) -> bool:
        """Wait for the channel's edit spacing; False when this progress edit is skipped for
        now. (The process-wide budget is charged as the request leaves: bot.app.rest_gate.)"""
        if is_edit:
            final = self._done
            granted, delay = self.pacer.edit_slot(self.channel_id, final=final)
            reserved = self.pacer.last_edit_start
            if not granted:  # the channel is busy: skip this progress edit
                await self._wait_for_finish(delay)
                return False
            if final:
                await asyncio.sleep(delay)
            elif delay > 0:
                await self._wait_for_finish(delay)
                if self._done:  # it ended meanwhile: its final edit goes instead, at once
                    self.pacer.release_edit(self.channel_id, reserved)
                    return False
        if self._progress(is_edit):  # first posts and final edits go first when it is tight
            granted, hint = self.pacer.peek()
            if not granted:
                await self._wait_for_finish(hint)
                return False
        return True

    async def _post(self, index: int) -> None:
        """A new message takes its REST slot before its text is chosen: under load a reply
        may end while its first post waits, and then that post shows the final text, with no
        edit after it."""
        if not self.surface.limits.charged:
            await self._apply(index)
            return
        await self.surface.ready()  # the slot is held while the block runs: not for this wait
        async with self.post_slot():
            await self._apply(index)

    def _progress(self, is_edit: bool) -> bool:
        return is_edit and not self._done

    async def _wait_for_finish(self, at_most: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._finished.wait(), max(0.05, at_most))

    def _has_something(self) -> bool:
        return bool(self.text or self.placeholder or self.activity or self._done)

    async def _wait_for_text(self) -> None:
        """Show the typing indicator from ``typing_after`` until the first text (or the end)
        arrives. The indicator runs beside the reply: under load it may wait for room in the
        REST budget, and the first post must not wait behind it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.typing_after):
                await self._something_to_show()
        if self._has_something():
            return
        granted, _ = self.pacer.peek()
        if granted:  # else the process is busy: skip the typing indicator
            self._typing = asyncio.create_task(self._type(), name=f"typing-{self.channel_id}")
        await self._something_to_show()
        if self._typing is not None:  # a typing request still waiting would show after the text
            self._typing.cancel()

    async def _type(self) -> None:
        with low_priority():  # discord.py renews it from a task started here: that too
            async with self.surface.typing():
                await self._something_to_show()

    async def _something_to_show(self) -> None:
        while not self._has_something():
            self._changed.clear()
            await self._changed.wait()

    async def _apply(self, index: int) -> None:
        target = self._target()  # the latest text, computed after the wait
        if index >= len(target):
            return
        content, button = target[index]
        if index < len(self.messages):
            await self.surface.edit(self.messages[index], content, button=button)
            self._shown[index] = (content, button)
            return
        first = not self.messages
        reply_to = self.reply_to() if first and self.reply_to is not None else None
        message_id = await self.surface.post(content, button=button, reply_to=reply_to)
        self.pacer.posted(self.channel_id)
        self.messages.append(message_id)
        self._shown.append((content, button))
        if first and self.on_posted is not None:
            await self.on_posted(message_id)

    def _vanished(self) -> None:
        log.info(
            "Stopping a reply in %s: its message is gone or may not be posted", self.channel_id
        )
        self.gone = True
        if self.on_gone is not None:
            self.on_gone()
