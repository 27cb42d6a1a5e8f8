"""Plain values for the core's rules (:mod:`bot.core.policy`), read from discord.py's objects:
where someone acts, their roles, and permission flags."""

from __future__ import annotations

from dataclasses import fields

import discord

from bot.core.policy import Flags, Kind, Place


def place_of(
    channel: object, channel_id: int, guild_id: int | None, *, absent: bool = False
) -> Place:
    """``channel`` (a message's or an interaction's; may be partial) with its id and server.
    ``absent``: the bot is not a member there (:func:`cogs.chat.interaction.bot_absent`)."""
    parent = getattr(channel, "parent", None) or channel
    if isinstance(channel, discord.Thread):
        kind = Kind.THREAD
    elif isinstance(channel, discord.TextChannel):
        kind = Kind.TEXT
    elif guild_id is None:
        kind = Kind.DM
    else:
        kind = Kind.OTHER
    return Place(
        channel_id, kind, guild_id=guild_id, parent_id=getattr(channel, "parent_id", None),
        category_id=getattr(parent, "category_id", None),
        thread_owner_id=channel.owner_id if isinstance(channel, discord.Thread) else None,
        absent=absent,
    )  # fmt: skip


def role_ids_of(user: discord.abc.User) -> frozenset[int]:
    """A member's roles where they are (none for a user outside a server)."""
    return frozenset(role.id for role in getattr(user, "roles", ()))


def flags_of(permissions: discord.Permissions) -> Flags:
    """An interaction's permissions, or ``channel.permissions_for(...)``, by attribute (their
    iteration leaves out aliases such as ``view_channel``)."""
    return Flags(**{field.name: getattr(permissions, field.name) for field in fields(Flags)})
