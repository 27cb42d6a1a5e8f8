"""The replies of the whole process: one queue per conversation, answered one reply at a time,
in the order the messages arrived; drained on shutdown.

Messages that arrive while a reply is being written wait in their conversation's queue and are
answered together by the next reply (as a person catching up on a busy thread would; it also
saves model calls). A queued message that is deleted is not answered; one that is edited is
answered as edited, since the request is built when its reply starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from bot.core.audio import Heard
from bot.core.policy import may_stop_reply
from bot.core.replies.job import Deps, Job, Prompt
from bot.core.replies.surface import Surface
from bot.core.store import Image, Turn
from bot.core.texts import EN, Texts

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Said:
    """What a user's message says: its text, its images for vision models, and what was heard
    of its recordings (transcribed into the text, or why not)."""

    text: str
    images: tuple[Image, ...] = ()
    heard: tuple[Heard, ...] = ()


ReadText = Callable[[], Awaitable[Said | str]]


def _said(value: Said | str) -> Said:
    return Said(value) if isinstance(value, str) else value


class Submitted(Enum):
    QUEUED = "queued"  # stored; a reply is on its way
    STORED = "stored"  # stored but not answered: the bot is shutting down
    EMPTY = "empty"  # nothing to answer (a bare mention, an unreadable attachment alone)
    DUPLICATE = "duplicate"  # the gateway delivered this message before
    NOT_SAVED = "not saved"  # the database stayed unreachable: the person was told to resend


# Seconds between attempts to store a message (or start its reply) while the database is
# unreachable: about three minutes in all, then the person is told. Holding the line's intake
# meanwhile keeps the conversation's arrival order.
RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 15, 30, 30, 30, 30, 30)
# From this many seconds of waiting on the database on, the typing indicator shows it.
SHOW_WAITING_AFTER = 3.0


class GaveUp(Exception):
    """The database stayed unreachable through every retry (or the bot began closing)."""


def _cancelled_from_outside() -> bool:
    """Whether the running task itself is being cancelled (a shutdown), as opposed to a
    CancelledError that leaked out of something it awaited (a cancelled helper task)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Stop(Enum):
    STOPPED = "stopped"
    REFUSED = "refused"  # not the asker's nor a moderator's to stop
    NOTHING = "nothing"  # no reply running there


@dataclass(eq=False)
class Line:
    """One conversation's queue. ``intake`` orders arrivals, edits and the start of replies:
    asyncio locks are granted first come, first served."""

    conversation_id: int
    intake: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: list[Prompt] = field(default_factory=list)
    surface: Surface | None = None
    texts: Texts = EN  # the language of the newest message
    running: Job | None = None
    worker: asyncio.Task[None] | None = None
    users: int = 0  # callers holding this line across an await

    @property
    def idle(self) -> bool:
        return not (self.waiting or self.running or self.worker or self.users)


class Replies:
    def __init__(
        self,
        deps: Deps,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.deps = deps
        self.closing = False
        self.retry_delays = retry_delays
        self.sleep = sleep  # tests wait out the retries without the wall clock
        self._lines: dict[int, Line] = {}  # one per live conversation: idle lines are dropped

    def _line(self, conversation_id: int) -> Line:
        line = self._lines.get(conversation_id)
        if line is None:
            line = self._lines[conversation_id] = Line(conversation_id)
        return line

    @contextlib.asynccontextmanager
    async def _held(self, conversation_id: int) -> AsyncIterator[Line]:
        """The conversation's line, kept while the caller awaits (an idle line is dropped)."""
        line = self._line(conversation_id)
        line.users += 1
        try:
            yield line
        finally:
            line.users -= 1
            self._release(line)

    def _release(self, line: Line) -> None:
        if line.idle and self._lines.get(line.conversation_id) is line:
            del self._lines[line.conversation_id]

    async def submit(
        self,
        conversation_id: int,
        *,
        message_id: int,
        author_id: int,
        author_name: str,
        read_text: ReadText,
        surface: Surface,
        texts: Texts = EN,
    ) -> Submitted:
        """Store a user's message as a turn, in arrival order, and queue its answer. Call it
        before any other await for the message, so that arrival order is Discord's."""
        async with self._held(conversation_id) as line:
            async with line.intake:
                said = _said(await read_text())
                if not said.text:
                    if said.heard:  # only recordings, none heard: say why (no model call)
                        await self._unheard(said.heard, surface, texts)
                    return Submitted.EMPTY
                stored = await self._store(
                    conversation_id, message_id, author_id, author_name, said, surface, texts
                )
                if not isinstance(stored, Turn):
                    return stored
                turn = stored
                line.waiting.append(Prompt(message_id, author_id, turn.seq, said.heard))
                line.surface, line.texts = surface, texts
            if self.closing:
                return Submitted.STORED
            if line.worker is None:
                line.worker = asyncio.create_task(
                    self._work(line), name=f"replies-{conversation_id}"
                )
            return Submitted.QUEUED

    async def _unheard(self, heard: tuple[Heard, ...], surface: Surface, texts: Texts) -> None:
        reasons = dict.fromkeys(h.refused for h in heard if h.refused is not None)
        said = "\n".join(texts.audio_refused(r, self.deps.audio_max_seconds) for r in reasons)
        try:
            await surface.tell(said)
        except Exception:  # the person could not be told: logged, nothing else to do
            log.warning("Could not say why a recording was not heard", exc_info=True)

    async def _store(
        self,
        conversation_id: int,
        message_id: int,
        author_id: int,
        author_name: str,
        said: Said,
        surface: Surface,
        texts: Texts,
    ) -> Turn | Submitted:
        """Store the message as a turn, retrying while the database is unreachable (with the
        typing indicator on once it takes a while). A retry whose earlier attempt committed
        after all finds that turn: "already stored" means a redelivery only on a first try."""
        conversations = self.deps.conversations

        async def store(first: bool) -> Turn | None:
            turn = await conversations.add_user_turn(
                conversation_id, message_id=message_id, content=said.text,
                author=author_name, author_id=author_id,
            )  # fmt: skip
            if turn is None and not first:  # our own earlier write, committed after all?
                turn = await conversations.user_turn(message_id)
                if turn is not None and turn.conversation_id != conversation_id:
                    turn = None
            if turn is not None and said.images:
                await conversations.add_images(turn, said.images)
            return turn

        try:
            turn = await self.retrying(store, f"store message {message_id}", surface.typing)
        except GaveUp:
            with contextlib.suppress(Exception):
                await surface.tell(texts.not_saved)
            return Submitted.NOT_SAVED
        return Submitted.DUPLICATE if turn is None else turn

    async def retrying(
        self,
        attempt: Callable[[bool], Awaitable[T]],
        what: str,
        waiting: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> T:
        """``attempt(first)``, tried again after each of :attr:`retry_delays` while it raises
        (the database unreachable), until the bot closes; then :class:`GaveUp`. ``waiting``
        (the typing indicator) shows once the wait reaches ``SHOW_WAITING_AFTER``. ``what``
        names the work in the log. Messages, replies and new conversations all wait so."""
        waited, shown = 0.0, False
        async with contextlib.AsyncExitStack() as stack:
            for number, delay in enumerate((*self.retry_delays, None)):
                try:
                    result = await attempt(number == 0)
                except Exception as exc:
                    if delay is None or self.closing:
                        log.error("Gave up: could not %s: %s", what, exc)
                        raise GaveUp(what) from exc
                    log.warning("Could not %s (%s); retrying in %g s", what, exc, delay)
                else:
                    if number:
                        log.info("Could %s after %.0f s", what, waited)
                    return result
                if waiting is not None and not shown and waited + delay >= SHOW_WAITING_AFTER:
                    shown = True
                    with contextlib.suppress(Exception):
                        await stack.enter_async_context(waiting())
                await self.sleep(delay)
                waited += delay
        raise AssertionError("unreachable: the last delay is None")

    async def edit(
        self,
        conversation_id: int,
        message_id: int,
        author_name: str,
        rewrite: Callable[[str], str],
    ) -> bool:
        """A user edited a message: update its turn (in order with arrivals). ``rewrite``
        turns the stored text into the edited one without reading anything again: attachments
        are read once, when the turn is stored. A message that is no stored turn of this
        conversation costs one lookup, and nothing is written."""
        async with self._held(conversation_id) as line, line.intake:
            conversations = self.deps.conversations
            turn = await conversations.user_turn(message_id)
            if turn is None or turn.conversation_id != conversation_id:
                return False
            text = rewrite(turn.content)
            if not text or text == turn.content:
                return False
            return await conversations.edit_user_turn(message_id, text, author_name)

    async def forget(self, message_id: int, channel_id: int) -> None:
        """A message was deleted: it leaves the history and the queue; a reply that answers
        nothing else any more stops."""
        for conversation_id in (channel_id, message_id):  # a thread's first message: its id
            line = self._lines.get(conversation_id)
            if line is None:
                continue
            line.waiting = [p for p in line.waiting if p.message_id != message_id]
            if line.running is not None:
                line.running.retract(message_id)
        await self.deps.conversations.forget_message(message_id)

    def stop(
        self, conversation_id: int, message_id: int, user_id: int, *, manage_messages: bool
    ) -> Stop:
        """The Stop button on ``message_id`` was pressed by ``user_id``."""
        line = self._lines.get(conversation_id)
        job = line.running if line is not None else None
        if job is None or job.display is None or message_id not in job.display.messages:
            return Stop.NOTHING
        if not may_stop_reply(user_id, job.askers, manage_messages=manage_messages):
            return Stop.REFUSED
        job.stop()
        return Stop.STOPPED

    def queued(self, conversation_id: int) -> int:
        """Messages stored and waiting for a reply."""
        line = self._lines.get(conversation_id)
        return len(line.waiting) if line is not None else 0

    def waiting_replies(self) -> int:
        """Replies waiting to start, process-wide: conversations with messages queued (a gauge)."""
        return sum(1 for line in self._lines.values() if line.waiting)

    def busy(self, conversation_id: int) -> bool:
        line = self._lines.get(conversation_id)
        return line is not None and line.running is not None

    async def reset(self, conversation_id: int) -> None:
        """Forget the history after the running reply ends; the queue goes with it."""
        async with self._held(conversation_id) as line, line.intake:
            if line.running is not None:
                await line.running.finished.wait()
            line.waiting.clear()
            await self.deps.conversations.reset(conversation_id)

    async def drain(self, grace: float) -> None:
        """Shutdown: take no new work, stop running replies (each shows and stores what it
        has), leave queued messages stored and unanswered. ``grace``: seconds to wait."""
        self.closing = True
        if self.deps.summarizer is not None:
            self.deps.summarizer.closing = True  # no summary call starts after this either
        for line in self._lines.values():
            if line.running is not None:
                line.running.stop(line.running.texts.stopped_for_shutdown)
        workers = [line.worker for line in self._lines.values() if line.worker is not None]
        if not workers:
            return
        _, late = await asyncio.wait(workers, timeout=grace)
        for worker in late:
            worker.cancel()
        if late:
            log.warning("%d replies did not finish within %.0f s of shutdown", len(late), grace)
            await asyncio.wait(late)

    async def _work(self, line: Line) -> None:
        """Answer the line's queue, one reply at a time, until it is empty."""
        try:
            while line.waiting and not self.closing:
                async with line.intake:
                    if self.closing or not line.waiting or line.surface is None:
                        break
                    # Its place in the history: after every message stored so far.
                    turn = await self._begin(line)
                    if turn is None:
                        continue
                    batch, line.waiting = line.waiting, []
                job = Job(
                    self.deps, line.surface, batch, turn,
                    newer_waiting=lambda: bool(line.waiting), texts=line.texts,
                )  # fmt: skip
                line.running = job
                try:
                    await job.run()
                except asyncio.CancelledError:
                    # A helper the reply awaited was cancelled (the display's task, a thread
                    # being opened): that ends this reply, not the messages queued behind it.
                    if _cancelled_from_outside():
                        raise
                    log.warning(
                        "A reply in %s was cut short: a step was cancelled", line.conversation_id
                    )
                except Exception:
                    log.exception("A reply in %s failed", line.conversation_id)
                finally:
                    line.running = None
        finally:
            line.worker = None
            self._release(line)

    async def _begin(self, line: Line) -> Turn | None:
        """The reply's turn, retried while the database is unreachable; after the last try the
        queued messages are dropped from the queue (they stay stored) and the person is told."""
        conversation_id = line.conversation_id
        try:
            return await self.retrying(
                lambda _: self.deps.conversations.begin_reply(conversation_id),
                f"start a reply in {conversation_id}",
            )
        except GaveUp:
            pass
        line.waiting.clear()
        if line.surface is not None and not self.closing:
            with contextlib.suppress(Exception):
                await line.surface.tell(line.texts.not_answered)
        return None
