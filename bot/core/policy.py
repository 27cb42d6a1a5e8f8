"""Who may do what, in one place: the operator's access lists, which threads become
conversations, who may use each command and button, where a choice (a persona, a model) applies,
and what the bot itself needs in a channel. Pure: the Discord side gathers plain values (ids, role
ids, :class:`Flags`, a :class:`Place`; :mod:`bot.app.places` reads them from discord.py's objects)
and asks; nothing here knows discord.py.

The lists are read from the environment with every other setting
(:func:`bot.core.settings.load_settings`) into an :class:`Access`. The rules, in the words of the README's "Slash commands" table, are
checked row by row in tests/bot/core/test_policy.py. Open to anyone the lists let in, so with no rule
of their own here: /forget, /usage, /persona show and /model show (answered privately), and the
Reasoning button (it shows a reply's reasoning privately to whoever asks).

Outside the bot's servers (its DMs, group DMs and other people's DMs, servers reached only
through a user-installed app) a person has no roles the lists can see: there the Discord side
looks them up in the servers the lists name (:meth:`Access.guilds_to_look_up`), and
:meth:`Access.outside_refusal` decides. A blocked role held anywhere blocks; with ALLOWED_ROLES or
ALLOWED_CHANNELS set, only an allowed member of an allowed server may use the bot there.

Permission names are discord.py's ``Permissions`` attribute names; :data:`LABELS` gives the name
Discord's own settings screens show, for messages that tell users what is missing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.core.refusal import Refusal
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


@dataclass(frozen=True, slots=True)
class Flags:
    """The permissions someone (or the bot) has where they act: those the rules read, by
    discord.py's names (each in :data:`LABELS`)."""

    view_channel: bool = False
    send_messages: bool = False
    send_messages_in_threads: bool = False
    create_public_threads: bool = False
    read_message_history: bool = False
    manage_messages: bool = False
    manage_threads: bool = False
    manage_channels: bool = False
    manage_guild: bool = False

    def has(self, name: str) -> bool:
        return bool(getattr(self, name))


class Kind(StrEnum):
    """What kind of channel someone acts in."""

    DM = "dm"  # a DM or a group DM: no server
    THREAD = "thread"
    TEXT = "text"  # a server's text channel: a conversation there opens a thread on the message
    OTHER = "other"  # any other server channel (voice, forum, ...), or one not in the cache


@dataclass(frozen=True, slots=True)
class Place:
    """Where someone acts, as the Discord side sees it."""

    channel_id: int
    kind: Kind
    guild_id: int | None = None
    parent_id: int | None = None  # a thread's channel
    category_id: int | None = None  # the category of the channel, or of a thread's channel
    thread_owner_id: int | None = None  # who opened the thread (None: not said, or no thread)
    absent: bool = False  # the bot is not a member: only an interaction reaches it (/chat)

    @property
    def listed_as(self) -> frozenset[int]:
        """The ids the access lists may name for it: the channel itself, a thread's channel,
        and the category of either."""
        ids = (self.channel_id, self.parent_id, self.category_id)
        return frozenset(i for i in ids if i is not None)

    @property
    def in_server(self) -> bool:
        """In a server the bot is a member of (not a DM, not a place reached only by /chat)."""
        return self.guild_id is not None and not self.absent


# -- The operator's access lists (ALLOWED_*, BLOCKED_*, ALLOW_DMS) ----------------------------


@dataclass(frozen=True, slots=True)
class Access:
    """The operator's lists, by id; an empty one restricts nothing."""

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


# -- Conversations: threads, Stop, /reset, /leave, /chat -------------------------------------


def may_adopt_thread(user_id: int, thread_owner_id: int | None, *, manage_threads: bool) -> bool:
    """A thread the bot did not open becomes a conversation when its owner, or someone with
    Manage Threads there, asks (a mention or /chat: the person asking, never the bot's own
    echo of a /chat); anyone else is answered on their own, message by message."""
    return user_id == thread_owner_id or manage_threads


def may_stop_reply(user_id: int, askers: Collection[int], *, manage_messages: bool) -> bool:
    """The Stop button: the people the reply answers, or a moderator."""
    return user_id in askers or manage_messages


def may_manage_conversation(user_id: int, owner_id: int, *, manage_threads: bool) -> bool:
    """/reset, /leave, and a conversation's persona and model: whoever started it, or Manage
    Threads."""
    return user_id == owner_id or manage_threads


def may_submit_form(user_id: int, opener_id: int) -> bool:
    """A persona form (discord.py finds a modal by its custom id alone): only who opened it."""
    return user_id == opener_id


def posting(*, in_thread: bool) -> str:
    """The permission that lets someone (or the bot) post in a thread, or in a channel."""
    return "send_messages_in_threads" if in_thread else "send_messages"


def chat_refusal(place: Place, flags: Flags) -> str | None:
    """/chat: the permission the caller lacks here (None: none), so that the bot never posts
    for someone the channel won't let post: posting, and opening a thread where /chat opens one
    (a server channel the bot is in). Nothing in DMs and group DMs."""
    if place.guild_id is None:
        return None
    in_thread = place.kind is Kind.THREAD
    needed = [posting(in_thread=in_thread)]
    if not (in_thread or place.absent):
        needed.append("create_public_threads")
    return next((name for name in needed if not flags.has(name)), None)


# -- Choices: /persona and /model set|clear ----------------------------------------------------

# The permission needed to set a persona or model for new conversations, by scope.
DEFAULT_PERMISSION = {Scope.CHANNEL: "manage_channels", Scope.GUILD: "manage_guild"}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a choice applies (a :class:`~bot.core.store.Scope`), and why this person may
    not make it there (None: they may): :attr:`Refusal.SERVER_ONLY`,
    :attr:`Refusal.NOT_IN_SERVER`, :attr:`Refusal.NOT_A_CONVERSATION`, or the permission they lack ("manage_threads" for a
    conversation: its starter may too)."""

    scope: Scope
    refused: Refusal | str | None = None  # a Refusal, or the permission lacking


def choice_target(
    option: str, place: Place, *, user_id: int, owner_id: int | None, flags: Flags
) -> Target:
    """Where a choice for ``option`` ("here" or "server", as people pick it) applies. ``owner_id``: who started the
    conversation here (None: there is none). "here" is the conversation (in a DM, or a place
    reached only through /chat, one that starts with this choice: theirs), else the channel's
    new conversations; "server" is the server's default."""
    if option == "server":
        if place.guild_id is None:
            return Target(Scope.GUILD, Refusal.SERVER_ONLY)
        if place.absent:
            return Target(Scope.GUILD, Refusal.NOT_IN_SERVER)
        return Target(Scope.GUILD, _lacking(flags, DEFAULT_PERMISSION[Scope.GUILD]))
    if owner_id is not None or place.absent or place.kind is Kind.DM:
        owner = user_id if owner_id is None else owner_id
        may = may_manage_conversation(user_id, owner, manage_threads=flags.manage_threads)
        return Target(Scope.CONVERSATION, None if may else "manage_threads")
    if place.kind is Kind.THREAD:
        return Target(Scope.CONVERSATION, Refusal.NOT_A_CONVERSATION)
    return Target(Scope.CHANNEL, _lacking(flags, DEFAULT_PERMISSION[Scope.CHANNEL]))


def tool_switch_target(option: str, place: Place, *, flags: Flags) -> Target:
    """``/tools on|off|clear``: where a switch for ``option`` ("channel" or "server") applies
    (the channel of a thread, for a thread), and why this person may not set it. Tools reach
    a whole server's members and may cost money: Manage Server for either scope."""
    scope = Scope.GUILD if option == "server" else Scope.CHANNEL
    if place.guild_id is None:
        return Target(scope, Refusal.SERVER_ONLY)
    if place.absent:
        return Target(scope, Refusal.NOT_IN_SERVER)
    return Target(scope, _lacking(flags, "manage_guild"))


def _lacking(flags: Flags, permission: str) -> str | None:
    return None if flags.has(permission) else permission


def model_choice_refusal(
    name: str,
    *,
    default: str,
    listed: Collection[str],
    open_to_all: Collection[str],
    in_server: bool,
    manage_guild: bool,
) -> Refusal | None:
    """Whether a person may choose ``name`` (None) or why not. Only the default and the
    operator's ``MODELS`` can ever answer. The default and the models marked open to everyone
    (``MODELS=gpt-4o-mini*,gpt-4o``) may be chosen by whoever may make the choice at all (a
    conversation's starter, Manage Channels for a channel); any other listed model needs
    Manage Server, so outside servers (DMs, places reached only through the app) nobody may
    choose it."""
    if name != default and name not in listed:
        return Refusal.MODEL_UNLISTED
    if name == default or name in open_to_all:
        return None
    if not in_server:
        return Refusal.MODEL_NOT_OPEN
    return None if manage_guild else Refusal.MODEL_NEEDS_MANAGE_SERVER


# -- What the bot itself needs -----------------------------------------------------------------

# In a channel, to open a conversation thread there and answer in it.
TO_OPEN_THREAD = ("view_channel", "create_public_threads", "send_messages_in_threads")
# To read a channel's messages, for the built-in tool: the person who asked, and the bot.
TO_READ_HISTORY = ("view_channel", "read_message_history")


def missing(flags: Flags, needed: Iterable[str]) -> list[str]:
    """The labels of the permissions in ``needed`` that ``flags`` lacks."""
    return [LABELS[name] for name in needed if not flags.has(name)]
