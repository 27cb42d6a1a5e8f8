"""Who may use the bot, by the operator's lists: servers, channels (a category covers its
channels, a thread follows its parent), roles, blocked people and roles, and DMs. An empty list
means no restriction. Pure: callers pass ids.

Outside the bot's servers (its DMs, group DMs and other people's DMs, servers reached only
through a user-installed app) a person has no roles the lists can see: there the Discord side
looks them up in the servers the lists name (:meth:`Access.guilds_to_look_up`), and
:meth:`Access.outside_refusal` decides. A blocked role held anywhere blocks; with ALLOWED_ROLES or
ALLOWED_CHANNELS set, only an allowed member of an allowed server may use the bot there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from bot.core.bounded import LRU
from bot.core.refusal import Refusal

NOTICE_EVERY = 300.0  # seconds: a refused person is told once in this long, not every message
NOTICE_PEOPLE = 10_000  # refused people remembered at once (NoticeThrottle)


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

    @property
    def looks_up_members(self) -> bool:
        """Whether a person outside the bot's servers must be looked up in its servers: the
        blocked roles, or the allow lists, need their roles there."""
        return bool(self.blocked_roles or self.roles or self.channels)

    def guilds_to_look_up(
        self, role_guilds: Mapping[int, int], channel_guilds: Collection[int]
    ) -> frozenset[int]:
        """The servers to look a person up in: those holding a blocked role, and those where
        they could use the bot (holding an allowed role, else an allowed channel; within
        ALLOWED_GUILDS). ``role_guilds``: the server of each listed role the bot can see;
        ``channel_guilds``: the servers holding an allowed channel or category."""
        return _guilds_to_look_up(self, role_guilds, channel_guilds)

    def outside_refusal(
        self,
        *,
        user_id: int,
        memberships: Collection[Membership] | None,
        channel_guilds: Collection[int] = (),
        guild_id: int | None = None,
        role_ids: Collection[int] = (),
        places: Collection[int] = (),
    ) -> Refusal | None:
        """None when the person may use the bot outside its servers: a DM or group DM
        (``guild_id`` None), or a server it is not in, reached through /chat (``role_ids``,
        ``places``: theirs there). ``memberships``: their roles in the servers looked up
        (None: the look-up failed just now); ``channel_guilds`` as for
        :meth:`guilds_to_look_up`."""
        if user_id in self.blocked_users:
            return Refusal.BLOCKED
        if guild_id is None and not self.dms:
            return Refusal.DMS
        if guild_id is not None:
            here = self.refusal(
                user_id=user_id, role_ids=role_ids, guild_id=guild_id, places=places
            )
            if here is not None:
                return here
        if not self.looks_up_members:
            return None
        if memberships is None:
            return Refusal.UNCHECKED
        if any(self.blocked_roles.intersection(m.role_ids) for m in memberships):
            return Refusal.BLOCKED
        usable = any(self._may_use_in(m, channel_guilds) for m in memberships)
        if guild_id is None and (self.roles or self.channels) and not usable:
            return Refusal.MEMBERS
        return None

    def _may_use_in(self, membership: Membership, channel_guilds: Collection[int]) -> bool:
        guild_id = membership.guild_id
        return (
            self.guild_allowed(guild_id)
            and (not self.channels or guild_id in channel_guilds)
            and (not self.roles or bool(self.roles.intersection(membership.role_ids)))
        )


@dataclass(frozen=True, slots=True)
class Membership:
    """A person's roles in one of the bot's servers (they are a member there)."""

    guild_id: int
    role_ids: frozenset[int] = frozenset()


def _guilds_to_look_up(
    access: Access, role_guilds: Mapping[int, int], channel_guilds: Collection[int]
) -> frozenset[int]:
    blocked = {role_guilds[r] for r in access.blocked_roles if r in role_guilds}
    if access.roles:
        usable = {role_guilds[r] for r in access.roles if r in role_guilds}
        if access.channels:
            usable &= set(channel_guilds)
    elif access.channels:
        usable = set(channel_guilds)
    else:
        usable = set()
    return frozenset(blocked | {g for g in usable if access.guild_allowed(g)})


class NoticeThrottle:
    """Whether to tell a refused person again: once per ``every`` seconds each. Bounded: those
    told more than ``every`` ago are forgotten, and at most ``NOTICE_PEOPLE`` are kept (past
    it, the longest told may be told again early)."""

    def __init__(
        self,
        every: float = NOTICE_EVERY,
        clock: Callable[[], float] = time.monotonic,
        maxsize: int = NOTICE_PEOPLE,
    ) -> None:
        self.every = every
        self.clock = clock
        self._told: LRU[int, float] = LRU(maxsize)  # oldest first: told times only grow

    def should_tell(self, user_id: int) -> bool:
        now = self.clock()
        if now - self._told.get(user_id, -self.every) < self.every:
            return False
        self._told[user_id] = now
        while now - next(iter(self._told.values())) >= self.every > 0:  # told long ago: forget
            self._told.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._told)
