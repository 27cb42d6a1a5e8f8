"""What both store backends share that is not SQL: the rows they read, mapped to the values of
:mod:`bot.core.store`.

SQLite and PostgreSQL select the same columns in the same order (``TURN_COLUMNS``,
``CONVERSATION_COLUMNS``), so one function a value turns a row (a tuple, an ``sqlite3.Row`` or an
``asyncpg.Record``) into it; only the SQL around it differs between
:mod:`bot.services.store.sqlite` and :mod:`bot.services.store.postgres`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from bot.core.store import (
    Conversation,
    Image,
    Scope,
    ScopedChoices,
    ToolSwitches,
    Turn,
    TurnStatus,
    UsageTotals,
)

TURN_COLUMNS = "seq, conversation_id, message_id, role, content, author_name, tokens, status"
CONVERSATION_COLUMNS = (
    "id, guild_id, parent_id, owner_id, persona, history_start, summary, summary_through, "
    "via_interaction"
)
NO_SEQ = 2**63 - 1  # "no upper bound" for seq

_STATUS = {status.value: status for status in TurnStatus}


def to_turn(row: Iterable[Any]) -> Turn:
    """A row of ``TURN_COLUMNS``."""
    seq, conversation_id, message_id, role, content, author_name, tokens, status = row
    return Turn(
        seq, conversation_id, message_id, role, content, author_name, tokens, _STATUS[status]
    )


def to_conversation(row: Iterable[Any]) -> Conversation:
    """A row of ``CONVERSATION_COLUMNS`` (SQLite stores the flag as 0 or 1)."""
    *values, via_interaction = row
    return Conversation(*values, via_interaction=bool(via_interaction))


def first_column(rows: Iterable[Any]) -> list[int]:
    """The first column of each row: the conversations a query found or deleted."""
    return [row[0] for row in rows]


def image_rows(seq: int, images: list[Image]) -> list[tuple[Any, ...]]:
    """A turn's images as rows of ``images (seq, position, mime, data, width, height)``."""
    return [(seq, i, im.mime, im.data, im.width, im.height) for i, im in enumerate(images)]


def to_images(rows: Iterable[Any]) -> dict[int, list[Image]]:
    """Rows of ``seq, mime, data, width, height``, ordered by turn and position."""
    found: dict[int, list[Image]] = {}
    for seq, mime, data, width, height in rows:
        found.setdefault(seq, []).append(Image(mime, bytes(data), width, height))
    return found


def to_choices(row: Iterable[Any]) -> ScopedChoices:
    """The channel and server personas, the conversation, channel and server models, then
    the conversation, channel and server voice switches."""
    values = list(row)
    voices = [None if v is None else bool(v) for v in values[5:8]]
    return ScopedChoices(*values[:5], *voices)


def to_switches(rows: Iterable[Iterable[Any]]) -> ToolSwitches:
    """Rows of (scope, server, enabled): the channel's switches and the server's."""
    channel: dict[str, bool] = {}
    guild: dict[str, bool] = {}
    for scope, server, enabled in rows:
        (channel if scope == Scope.CHANNEL else guild)[server] = bool(enabled)
    return ToolSwitches(channel=channel, guild=guild)


def to_usage(row: Iterable[Any] | None) -> UsageTotals:
    """Sums of requests, prompt, completion and cached tokens, and cost."""
    return UsageTotals(*row) if row else UsageTotals()


def worker_key(worker: str) -> str:
    """The ``meta`` key of a process's heartbeat (the queries find them by ``worker:%``)."""
    return f"worker:{worker}"


async def fit_budget(fetch: Callable[[int], Awaitable[list[Turn]]], budget: int) -> list[Turn]:
    """``newest_turns_within`` in both backends: ``fetch(limit)`` is the newest turns, among the
    ``limit`` newest, whose tokens fit ``budget``, plus the next older one. The window grows only
    while every turn in it still fits, so the cost follows what is kept, not the length of the
    conversation."""
    limit = max(64, budget // 100)  # a first guess of how many turns fit
    while True:
        turns = await fetch(limit)
        if len(turns) < limit or sum(each.tokens for each in turns) > budget:
            return turns
        limit *= 8
