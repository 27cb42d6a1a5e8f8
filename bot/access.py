"""Who may use the bot, by the operator's lists: servers, channels (a category covers its
channels, a thread follows its parent), roles, blocked people and roles, and DMs. An empty list
means no restriction. Pure: callers pass ids."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

NOTICE_EVERY = 300.0  # seconds: a refused person is told once in this long, not every message


class Refusal(StrEnum):
    BLOCKED = "blocked"
    DMS = "dms"
    GUILD = "guild"
    CHANNEL = "channel"
    ROLE = "role"
    MEMBERS = "members"  # DMs: only an allowed member of an allowed server, when lists are set
    UNCHECKED = "unchecked"  # those lists need a look-up that failed just now


@dataclass(frozen=True, slots=True)
class Access:
    guilds: frozenset[int] = frozenset()
    channels: frozenset[int] = frozenset()  # channels, categories, or a thread's parent
    roles: frozenset[int] = frozenset()
    blocked_users: frozenset[int] = frozenset()
    blocked_roles: frozenset[int] = frozenset()
    dms: bool = True

    def guild_allowed(self, guild_id: int) -> bool:
        return not self.guilds or guild_id in self.guilds

    def refusal(
        self,
        *,
        user_id: int,
        role_ids: Collection[int] = (),
        guild_id: int | None = None,
        places: Collection[int] = (),
    ) -> Refusal | None:
        """None when the person may use the bot here. ``places``: the channel, and its parent
        and category where there are any."""
        if user_id in self.blocked_users or self.blocked_roles.intersection(role_ids):
            return Refusal.BLOCKED
        if guild_id is None:
            return None if self.dms else Refusal.DMS
        if not self.guild_allowed(guild_id):
            return Refusal.GUILD
        if self.channels and not self.channels.intersection(places):
            return Refusal.CHANNEL
        if self.roles and not self.roles.intersection(role_ids):
            return Refusal.ROLE
        return None


class NoticeThrottle:
    """Whether to tell a refused person again: once per ``every`` seconds each. Bounded."""

    def __init__(
        self, every: float = NOTICE_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every = every
        self.clock = clock
        self._told: dict[int, float] = {}

    def should_tell(self, user_id: int) -> bool:
        now = self.clock()
        if now - self._told.get(user_id, -self.every) < self.every:
            return False
        self._told[user_id] = now
        if len(self._told) > 10_000:  # forget those told long ago
            self._told = {u: t for u, t in self._told.items() if now - t < self.every}
        return True
