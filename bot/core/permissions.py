"""Who may do what, in one place. Pure: callers pass ids and permission flags as plain values.

Permission names are discord.py's ``Permissions`` attribute names; :data:`LABELS` gives the name
Discord's own settings screens show, for messages that tell users what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from bot.core.store import Scope

LABELS = {
    "view_channel": "View Channels",
    "send_messages": "Send Messages",
    "send_messages_in_threads": "Send Messages in Threads",
    "create_public_threads": "Create Public Threads",
    "read_message_history": "Read Message History",
    "manage_messages": "Manage Messages",
    "manage_threads": "Manage Threads",
    "manage_channels": "Manage Channels",
    "manage_guild": "Manage Server",
}

# What the bot needs in a channel to open a conversation thread there and answer in it.
TO_OPEN_THREAD = ("view_channel", "create_public_threads", "send_messages_in_threads")
# What it needs to answer in an existing thread (or a channel, for notices).
TO_ANSWER_IN_THREAD = ("view_channel", "send_messages_in_threads")
TO_ANSWER_IN_CHANNEL = ("view_channel", "send_messages")


def missing(has: Callable[[str], bool], needed: Collection[str]) -> list[str]:
    """The labels of the permissions in ``needed`` that ``has`` says are not granted."""
    return [LABELS[name] for name in needed if not has(name)]


def may_stop_reply(user_id: int, askers: Collection[int], *, manage_messages: bool) -> bool:
    """The Stop button: the people the reply answers, or a moderator."""
    return user_id in askers or manage_messages


def may_adopt_thread(user_id: int, thread_owner_id: int | None, *, manage_threads: bool) -> bool:
    """A thread the bot did not open becomes a conversation when its owner, or someone with
    Manage Threads there, asks (a mention or /chat: the person asking, never the bot's own
    echo of a /chat); anyone else is answered on their own, message by message."""
    return user_id == thread_owner_id or manage_threads


def may_manage_conversation(user_id: int, owner_id: int, *, manage_threads: bool) -> bool:
    """/reset and a conversation's persona: whoever started it, or Manage Threads."""
    return user_id == owner_id or manage_threads


# The permission needed to set a persona for new conversations, by scope.
PERSONA_SCOPE_PERMISSION = {Scope.CHANNEL: "manage_channels", Scope.GUILD: "manage_guild"}


# -- Models (MODELS, /model set) -------------------------------------------------------------
# Why a model may not be chosen: not one the operator listed; listed, but outside servers only
# the models open to everyone may be chosen; listed, and choosing it needs Manage Server.
UNLISTED, NOT_OPEN, NEEDS_MANAGE_SERVER = "unlisted", "not open", "needs manage_guild"


def model_choice_refusal(
    name: str,
    *,
    default: str,
    listed: Collection[str],
    open_to_all: Collection[str],
    in_server: bool,
    manage_guild: bool,
) -> str | None:
    """Whether a person may choose ``name`` (None) or why not. Only the default and the
    operator's ``MODELS`` can ever answer. The default and the models marked open to everyone
    (``MODELS=gpt-4o-mini*,gpt-4o``) may be chosen by whoever may make the choice at all (a
    conversation's starter, Manage Channels for a channel); any other listed model needs
    Manage Server, so outside servers (DMs, places reached only through the app) nobody may
    choose it."""
    if name != default and name not in listed:
        return UNLISTED
    if name == default or name in open_to_all:
        return None
    if not in_server:
        return NOT_OPEN
    return None if manage_guild else NEEDS_MANAGE_SERVER
