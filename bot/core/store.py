"""The storage interface and the plain values that cross it.

Cogs and core code talk to :class:`Store` only; its two implementations, SQLite and PostgreSQL,
live in :mod:`bot.services.store` and pass one contract suite (``tests/bot/services/store/test_contract.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

Role = Literal["user", "assistant"]


class TurnStatus(StrEnum):
    COMPLETE = "complete"
    STREAMING = "streaming"  # an assistant reply being generated right now
    INTERRUPTED = "interrupted"  # stopped, cut off, or the bot restarted mid-reply


class Scope(StrEnum):
    """Where a persona or a model is chosen: one conversation, the channel whose new
    conversations it applies to, or the server (Discord's guild; people read "server"). The
    most specific wins (bot.core.choices). The values are what the store keeps."""

    CONVERSATION = "conversation"
    CHANNEL = "channel"
    GUILD = "guild"


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message names the path and the cause."""


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int  # the thread (or DM channel) id
    guild_id: int | None
    parent_id: int | None  # the channel the thread was started in
    owner_id: int
    persona: str | None
    history_start: int  # turns with seq <= this are not re-sent (reset, or summarised)
    summary: str | None = None  # of the turns up to summary_through
    summary_through: int = 0
    # Reached only through a user-installed app's /chat (the bot was not a member there): never
    # listened to by messages, even once the bot joins that server. See cogs/chat/interaction.py.
    via_interaction: bool = False


@dataclass(frozen=True, slots=True)
class Turn:
    seq: int  # insertion order within the whole store; orders turns in a conversation
    conversation_id: int
    message_id: int | None  # the Discord message (a reply's first message for assistant turns)
    role: Role
    content: str
    author_name: str | None
    tokens: int  # exact prompt tokens of this message, per-message overhead included
    status: TurnStatus


@dataclass(frozen=True, slots=True)
class Image:
    """An image of a user's turn, as sent to vision models (already downscaled)."""

    mime: str  # image/png, image/jpeg, image/webp
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ScopedChoices:
    """The personas and models set for a conversation's scopes; None where none is set."""

    channel_persona: str | None = None
    guild_persona: str | None = None
    conversation_model: str | None = None
    channel_model: str | None = None
    guild_model: str | None = None
    conversation_voice: bool | None = None  # replies read out (/voice)
    channel_voice: bool | None = None
    guild_voice: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolSwitches:
    """The tool servers (by name) switched on (True) or off (False) for a channel and for a
    server, with ``/tools``; a server not named follows the scope above it."""

    channel: Mapping[str, bool] = field(default_factory=dict)
    guild: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UsageTotals:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0  # US dollars, estimated where prices are configured

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def get_conversation(self, conversation_id: int) -> Conversation | None: ...

    async def create_conversation(
        self,
        conversation_id: int,
        *,
        guild_id: int | None,
        parent_id: int | None,
        owner_id: int,
        via_interaction: bool = False,
    ) -> Conversation:
        """Create it, or return the existing one unchanged (safe to call twice); except that a
        conversation reached only through /chat (``via_interaction``) that is now started
        where the bot listens (a thread's owner adopting it, the bot's own DM) becomes an
        ordinary one, owned by whoever started it there."""
        ...

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
        """Store a turn; ``None`` when ``message_id`` was stored already (redelivered event)."""
        ...

    async def update_turn(
        self,
        seq: int,
        *,
        content: str,
        tokens: int,
        status: TurnStatus,
        message_id: int | None = None,
    ) -> None: ...

    async def edit_message(self, message_id: int, content: str, tokens: int) -> bool: ...

    async def user_turn(self, message_id: int) -> Turn | None:
        """The user turn stored for this Discord message, if any (one indexed lookup)."""
        ...

    async def delete_message(self, message_id: int) -> bool: ...

    async def newest_turns(
        self, conversation_id: int, *, limit: int, before_seq: int | None = None
    ) -> list[Turn]:
        """Up to ``limit`` turns after ``history_start``, newest first, older than ``before_seq``."""
        ...

    async def newest_turns_within(
        self, conversation_id: int, budget: int, *, after_seq: int, before_seq: int | None = None
    ) -> list[Turn]:
        """Newest first: the newest turns after ``after_seq`` (the caller's ``history_start``,
        so that turns and summary come from one snapshot) and before ``before_seq`` (the reply
        being written) whose token counts add up to at most ``budget``, plus the next older
        turn if there is one."""
        ...

    async def reset_conversation(self, conversation_id: int) -> int:
        """Delete the history so far (every turn stored until now, with its images and
        reasoning) and the summary; no summary begun before can be saved. The turns deleted."""
        ...

    async def turns_between(
        self, conversation_id: int, after_seq: int, through_seq: int
    ) -> list[Turn]:
        """Turns with ``after_seq < seq <= through_seq``, oldest first."""
        ...

    async def evict(self, conversation_id: int, through_seq: int) -> None:
        """Stop re-sending turns up to ``through_seq`` (they await a summary)."""
        ...

    async def save_summary(
        self, conversation_id: int, summary: str | None, through_seq: int
    ) -> bool:
        """Store a summary of the turns up to ``through_seq`` and stop re-sending them. False
        (nothing stored) if a newer summary or a reset came first."""
        ...

    async def set_conversation_persona(self, conversation_id: int, persona: str | None) -> None: ...

    async def set_default_persona(self, scope: Scope, scope_id: int, persona: str | None) -> None:
        """A channel's or a server's persona (``scope`` CHANNEL or GUILD; a conversation's
        own is :meth:`set_conversation_persona`'s)."""
        ...

    async def interrupt_streaming_turns(self, *, live: Collection[str] = ()) -> list[Turn]:
        """Mark replies left streaming by processes not in ``live`` (dead ones) as
        interrupted; returns them, so their Discord messages can be mended (or the turn
        dropped if nothing was shown)."""
        ...

    async def delete_turn(self, seq: int) -> None:
        """Drop one turn, e.g. a reply that ended before it said anything."""
        ...

    async def conversation_ids(self, limit: int) -> list[int]:
        """Up to ``limit`` ids of the conversations that messages reach (not those reached only
        through /chat), newest first: the in-memory index at start-up."""
        ...

    async def attach_message(self, seq: int, message_id: int) -> None:
        """Record the Discord message a reply is shown in, as soon as it is posted."""
        ...

    async def turns_after(self, after_seq: int, limit: int) -> list[Turn]:
        """All conversations' turns, oldest first, in pages (for recounting tokens)."""
        ...

    async def set_token_counts(self, counts: list[tuple[int, int]]) -> None:
        """(seq, tokens) pairs."""
        ...

    async def get_meta(self, key: str) -> str | None:
        """Small facts about the deployment, e.g. the digest of the last synced commands."""
        ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def set_reasoning(self, seq: int, reasoning: str) -> None:
        """A reply's reasoning, kept apart from its text (never re-sent). Not stored for a
        reply that a /forget or /reset overtook while it was written (its seq is then at or
        below the conversation's ``summary_through``)."""
        ...

    async def get_reasoning(self, seq: int) -> str | None: ...

    async def set_tools(self, seq: int, tools: str, tokens: int) -> None:
        """A reply's tool calls and their results (JSON, :class:`bot.core.tool_loop.Exchange`)
        and their prompt tokens; guarded like :meth:`set_reasoning`."""
        ...

    async def tools_of(self, seqs: list[int]) -> dict[int, tuple[str, int]]:
        """The stored tool calls of these turns and their tokens, by turn (others left out)."""
        ...

    async def add_images(self, seq: int, images: list[Image]) -> None:
        """The images of a user's turn, in order."""
        ...

    async def images_of(self, seqs: list[int]) -> dict[int, list[Image]]:
        """The images of these turns, by turn (turns without images are left out)."""
        ...

    async def set_model(self, scope: Scope, scope_id: int, model: str | None) -> None:
        """Choose a model for a scope (None: clear the choice)."""
        ...

    async def set_voice(self, scope: Scope, scope_id: int, on: bool | None) -> None:
        """Read replies out in a scope, or not (None: clear the choice)."""
        ...

    async def get_choices(
        self, *, conversation_id: int | None, channel_id: int | None, guild_id: int | None
    ) -> ScopedChoices:
        """Every persona and model set for these scopes (None: not asked), in one query:
        each reply asks before its model request."""
        ...

    async def set_tool_switch(
        self, scope: Scope, scope_id: int, server: str, on: bool | None
    ) -> None:
        """Switch a tool server on or off for a channel or a server (None: clear the switch)."""
        ...

    async def tool_switches(self, *, channel_id: int | None, guild_id: int | None) -> ToolSwitches:
        """The switches of a channel and a server (None: not asked), in one query."""
        ...

    async def forget_user(self, user_id: int, *, names: Collection[str] = ()) -> int:
        """Delete everything stored from a person: their turns (with their images) in every
        conversation, and their usage rows. Turns stored before the author column existed
        (``author_id`` NULL) count as theirs in conversations they started, and elsewhere when
        stored under one of ``names`` (as the API saw them). Also gone: the reasoning of every
        reply after their first turn in a conversation, and the summaries of the conversations
        they were in or started (both may quote them); no summary begun before can be saved.
        Returns how many turns were deleted."""
        ...

    async def delete_conversation(self, conversation_id: int) -> bool: ...

    async def delete_place(self, place_id: int) -> list[int]:
        """A deleted channel or thread: the conversation keyed by it, those whose parent it is
        (threads opened from a channel; messages answered on their own in a thread), and those
        whose parent is one of these; with the place's channel-wide choices and tool switches.
        Their ids."""
        ...

    async def delete_guild(self, guild_id: int) -> list[int]:
        """A server's conversations, usage, server-wide choices and tool switches; the
        conversation ids."""
        ...

    async def delete_idle(self, before: dt.datetime) -> list[int]:
        """Conversations with nothing said since ``before`` (UTC); their ids."""
        ...

    async def purge(self) -> bool:
        """Make deleted text unrecoverable from the database files, where the engine allows.
        False when that could not be finished now (another connection held the log)."""
        ...

    async def heartbeat(self, worker: str, *, ago: float = 0.0) -> None:
        """A process says it is alive (several processes may share the database), at the
        database's clock (``ago`` seconds back: tests), so no process's own clock matters."""
        ...

    async def live_workers(self, within: float) -> list[str]:
        """The processes heard from in the last ``within`` seconds of the database's clock;
        the silent ones are forgotten."""
        ...

    async def retire(self, worker: str) -> None:
        """A process stopping cleanly."""
        ...

    async def add_usage(
        self,
        *,
        guild_id: int | None,
        user_id: int,
        day: dt.date,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int = 0,
        cost: float = 0.0,
    ) -> None: ...

    async def usage(
        self, *, guild_id: int | None, since: dt.date, user_id: int | None = None
    ) -> UsageTotals: ...

    async def spent_by(self, *, user_id: int, day: dt.date) -> float:
        """What a person's requests cost on ``day``, in every server and outside them (the
        daily budget's seed after a restart)."""
        ...
