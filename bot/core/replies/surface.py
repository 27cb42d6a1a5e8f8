"""What a reply needs from the chat platform, and the ways that can fail.

The core decides what to show and when; a :class:`Surface` carries it out. The chat cog
implements it on discord.py (a thread or DM; an interaction's webhook where the bot cannot
post), tests implement it in memory. Message ids are the platform's; the core only hands them
back.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class Button:
    """The buttons under a reply: Stop while it streams; once done, any of Reasoning (a
    reasoning model's thinking), Tools (the calls it made) and Speak (the reply read out as a
    voice message), each about ``turn``, the reply's stored turn."""

    kind: Literal["stop", "finished"]
    turn: int = 0
    reasoning: bool = False
    tools: bool = False
    speak: bool = False


STOP = Button("stop")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one reply may use of a surface. ``messages``: at most this many; ``until``: the
    time (on the replies' clock, ``time.monotonic``) by which the reply must end so that its
    end can still be shown. None: no such limit. An interaction's webhook, for one, takes
    five follow-ups and expires after 15 minutes."""

    messages: int | None = None
    until: float | None = None
    charged: bool = True  # its posts count towards Discord's global limit (webhooks do not)


UNLIMITED = Limits()


class Answer(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    TIMEOUT = "timeout"  # no answer in time, or the prompt could not be shown


@dataclass(frozen=True, slots=True)
class Question:
    """A yes-or-no prompt that only ``user_id`` may answer (before a tool that acts runs)."""

    user_id: int
    text: str
    allow: str  # the buttons' labels
    deny: str
    others: str  # said privately to anyone else who presses
    answered: Mapping[Answer, str]  # what the prompt says once answered
    seconds: float


class SurfaceError(Exception):
    """Showing a reply failed."""


class Gone(SurfaceError):
    """The message or its channel was deleted: stop the reply quietly."""


class Refused(SurfaceError):
    """The bot lacks a permission; retrying won't help. ``permission`` names it for users."""

    def __init__(self, permission: str) -> None:
        super().__init__(f"missing permission: {permission}")
        self.permission = permission


class Failed(SurfaceError):
    """A failure that may pass (a 5xx, or rate limited after the library's own retries)."""


class Surface(Protocol):
    """Where one conversation's replies are shown."""

    @property
    def channel_id(self) -> int: ...

    @property
    def limits(self) -> Limits:
        """What one reply may use here; the reply is cut short, with a note, to stay within."""
        ...

    async def ready(self) -> None:
        """Wait until there is somewhere to post (a thread may still be being opened); raises
        :class:`Gone` if there never will be."""
        ...

    async def post(self, text: str, *, button: Button | None, reply_to: int | None = None) -> int:
        """Send a message (with ``button`` under it); returns its id. ``reply_to`` shows which
        message it answers, when that is not the newest."""
        ...

    async def edit(self, message_id: int, text: str, *, button: Button | None) -> None: ...

    def typing(self) -> AbstractAsyncContextManager[None]:
        """The typing indicator while the body runs; its failure never stops a reply."""
        ...

    async def ask(self, question: Question) -> Answer:
        """Post ``question`` with Allow and Deny buttons that only its person may press, wait
        up to its ``seconds``, then show the answer on it. Never raises: a prompt that can't
        be shown is answered :attr:`Answer.TIMEOUT` (nothing runs)."""
        ...

    async def tell(self, text: str) -> None:
        """A short notice where the asker can see it (the conversation, else next to their
        message). Never raises: a notice that can't be shown is logged."""
        ...

    async def speak(self, text: str, reply_to: int | None, asker_id: int) -> None:
        """Read ``text`` out as a voice message under ``reply_to`` (/voice on), paid by the
        asker; where voice messages can't be posted, nothing. Never raises: what fails is
        told (:meth:`tell`) or logged."""
        ...
