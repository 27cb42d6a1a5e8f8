"""Who may do what, in the words of the README's "Slash commands" table: one row per rule, read
as "<what> by <who> in <where>: <answer>"."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core import policy
from bot.core.policy import Access, Flags, Kind, Membership, Place
from bot.core.refusal import Refusal
from bot.core.store import Scope

OWNER, SOMEONE, GUILD, CHANNEL, THREAD = 1, 2, 100, 200, 300

MEMBER = Flags(
    view_channel=True, send_messages=True, send_messages_in_threads=True,
    create_public_threads=True, read_message_history=True,
)  # fmt: skip
PEOPLE = {  # who: (their id, their permissions where they act)
    "the owner": (OWNER, MEMBER),  # started the conversation, or opened the thread
    "someone else": (SOMEONE, MEMBER),
    "Manage Threads": (SOMEONE, replace(MEMBER, manage_threads=True)),
    "Manage Messages": (SOMEONE, replace(MEMBER, manage_messages=True)),
    "Manage Channels": (SOMEONE, replace(MEMBER, manage_channels=True)),
    "Manage Server": (SOMEONE, replace(MEMBER, manage_guild=True)),
    "someone who can't post": (SOMEONE, Flags(view_channel=True)),
    "someone who can't open threads": (SOMEONE, replace(MEMBER, create_public_threads=False)),
    "the bot, without threads": (SOMEONE, replace(MEMBER, create_public_threads=False)),
}
IN_THREAD = Place(THREAD, Kind.THREAD, guild_id=GUILD, parent_id=CHANNEL, thread_owner_id=OWNER)
PLACES = {  # where: (the place, who started the conversation there: None, there is none)
    "a conversation": (IN_THREAD, OWNER),
    "the owner's thread": (IN_THREAD, None),  # a thread the bot did not open
    "a channel": (Place(CHANNEL, Kind.TEXT, guild_id=GUILD), None),
    "the bot's DM": (Place(CHANNEL, Kind.DM), None),
    "a DM conversation": (Place(CHANNEL, Kind.DM), OWNER),
    "a server without the bot": (Place(CHANNEL, Kind.TEXT, guild_id=GUILD, absent=True), None),
    "a group DM": (Place(CHANNEL, Kind.DM, absent=True), None),
}
# MODELS=gpt-4o-mini*,gpt-4o with OPENAI_MODEL=default-model: the default and gpt-4o-mini are
# open to everyone, gpt-4o needs Manage Server, gpt-5 is not listed.
DEFAULT, LISTED, OPEN = "default-model", ("gpt-4o-mini", "gpt-4o"), ("gpt-4o-mini",)
KINDS = {
    Scope.CONVERSATION: "this conversation",
    Scope.CHANNEL: "the channel",
    Scope.GUILD: "the server",
}


def no(refused: str) -> str:
    return f"no: {policy.LABELS.get(refused, refused)}"


def yes_if(allowed: bool, otherwise: str) -> str:
    return "yes" if allowed else no(otherwise)


def ask(what: str, user_id: int, flags: Flags, place: Place, owner: int | None) -> str:
    """The policy's answer, in the table's words."""
    command, _, argument = what.partition(" ")
    if command in ("/reset", "/leave"):
        assert owner is not None  # elsewhere: "not a conversation", before any rule
        manages = policy.may_manage_conversation(
            user_id, owner, manage_threads=flags.manage_threads
        )
        return yes_if(manages, "manage_threads")
    if command == "/chat":
        refused = policy.chat_refusal(place, flags)
        return "yes" if refused is None else no(refused)
    if command in ("/persona", "/model") and argument.startswith(("set", "clear")):
        scope = "server" if argument.endswith("scope:server") else "here"
        target = policy.choice_target(scope, place, user_id=user_id, owner_id=owner, flags=flags)
        return no(target.refused) if target.refused else f"yes: {KINDS[target.scope]}"
    if command == "/tools" and argument.startswith(("on", "off", "clear")):
        where = "server" if argument.endswith("where:server") else "channel"
        target = policy.tool_switch_target(where, place, flags=flags)
        return no(target.refused) if target.refused else f"yes: {KINDS[target.scope]}"
    if command == "/model" and argument.startswith("choose "):
        refused = policy.model_choice_refusal(
            argument.removeprefix("choose "), default=DEFAULT, listed=LISTED, open_to_all=OPEN,
            in_server=place.in_server, manage_guild=flags.manage_guild,
        )  # fmt: skip
        return "yes" if refused is None else no(refused)
    if what == "Stop":  # the reply answers the owner
        return yes_if(
            policy.may_stop_reply(user_id, {OWNER}, manage_messages=flags.manage_messages),
            "manage_messages",
        )
    if what == "a mention":
        adopts = policy.may_adopt_thread(
            user_id, place.thread_owner_id, manage_threads=flags.manage_threads
        )
        return "yes: the thread becomes a conversation" if adopts else "no: answered on its own"
    if what == "the persona form":  # the owner opened it
        return yes_if(policy.may_submit_form(user_id, OWNER), "not your form")
    if what == "opening a thread":  # what the bot itself needs
        lacking = policy.missing(flags, policy.TO_OPEN_THREAD)
        return "yes" if not lacking else "no: " + ", ".join(lacking)
    raise AssertionError(f"no rule for {what!r}")


# what                       who                               where                        answer
ROWS = [
    ("/chat",                "someone else",                   "a channel",                 "yes"),
    ("/chat",                "someone who can't post",         "a channel",                 no("send_messages")),
    ("/chat",                "someone who can't open threads", "a channel",                 no("create_public_threads")),
    ("/chat",                "someone who can't open threads", "a server without the bot",  "yes"),
    ("/chat",                "someone who can't post",         "the owner's thread",        no("send_messages_in_threads")),
    ("/chat",                "someone who can't post",         "the bot's DM",              "yes"),
    ("/chat",                "someone who can't post",         "a group DM",                "yes"),
    ("/reset",               "the owner",                      "a conversation",            "yes"),
    ("/reset",               "someone else",                   "a conversation",            no("manage_threads")),
    ("/reset",               "Manage Threads",                 "a conversation",            "yes"),
    ("/leave",               "the owner",                      "a conversation",            "yes"),
    ("/leave",               "someone else",                   "a conversation",            no("manage_threads")),
    ("/leave",               "Manage Threads",                 "a DM conversation",         "yes"),
    ("/persona set",         "the owner",                      "a conversation",            "yes: this conversation"),
    ("/persona set",         "someone else",                   "a conversation",            no("manage_threads")),
    ("/persona set",         "Manage Threads",                 "a conversation",            "yes: this conversation"),
    ("/persona set",         "someone else",                   "a channel",                 no("manage_channels")),
    ("/persona set",         "Manage Channels",                "a channel",                 "yes: the channel"),
    ("/persona set",         "Manage Channels",                "the owner's thread",        no("not a conversation")),
    ("/persona set",         "someone else",                   "the bot's DM",              "yes: this conversation"),
    ("/persona set",         "someone else",                   "a DM conversation",         no("manage_threads")),
    ("/persona set",         "someone else",                   "a server without the bot",  "yes: this conversation"),
    ("/persona set",         "someone else",                   "a group DM",                "yes: this conversation"),
    ("/persona clear",       "someone else",                   "a channel",                 no("manage_channels")),
    ("/persona set scope:server", "Manage Channels",           "a channel",                 no("manage_guild")),
    ("/persona set scope:server", "Manage Server",             "a channel",                 "yes: the server"),
    ("/persona set scope:server", "Manage Server",             "a conversation",            "yes: the server"),
    ("/persona set scope:server", "Manage Server",             "the bot's DM",              no("server only")),
    ("/persona set scope:server", "Manage Server",             "a group DM",                no("server only")),
    ("/persona set scope:server", "Manage Server",             "a server without the bot",  no("not in server")),
    ("/model set",           "someone else",                   "a conversation",            no("manage_threads")),
    ("/model clear scope:server", "Manage Server",             "a channel",                 "yes: the server"),
    ("/model choose default-model", "someone else",            "the bot's DM",              "yes"),
    ("/model choose gpt-4o-mini", "someone else",              "the bot's DM",              "yes"),
    ("/model choose gpt-4o-mini", "the owner",                 "a conversation",            "yes"),
    ("/model choose gpt-4o", "the owner",                      "a conversation",            no("needs manage_guild")),
    ("/model choose gpt-4o", "Manage Server",                  "a conversation",            "yes"),
    ("/model choose gpt-4o", "Manage Server",                  "the bot's DM",              no("not open")),
    ("/model choose gpt-4o", "Manage Server",                  "a server without the bot",  no("not open")),
    ("/model choose gpt-5",  "Manage Server",                  "a channel",                 no("unlisted")),
    ("/model choose gpt-5",  "someone else",                   "the bot's DM",              no("unlisted")),
    ("/tools on",            "Manage Channels",                "a channel",                 no("manage_guild")),
    ("/tools on",            "Manage Server",                  "a channel",                 "yes: the channel"),
    ("/tools off",           "Manage Server",                  "a conversation",            "yes: the channel"),
    ("/tools clear where:server", "Manage Server",             "a conversation",            "yes: the server"),
    ("/tools off where:server", "the owner",                   "a conversation",            no("manage_guild")),
    ("/tools on",            "Manage Server",                  "the bot's DM",              no("server only")),
    ("/tools on",            "Manage Server",                  "a server without the bot",  no("not in server")),
    ("the persona form",     "the owner",                      "a conversation",            "yes"),
    ("the persona form",     "Manage Server",                  "a conversation",            no("not your form")),
    ("Stop",                 "the owner",                      "a conversation",            "yes"),
    ("Stop",                 "someone else",                   "a conversation",            no("manage_messages")),
    ("Stop",                 "Manage Messages",                "a conversation",            "yes"),
    ("Stop",                 "Manage Threads",                 "a conversation",            no("manage_messages")),
    ("a mention",            "the owner",                      "the owner's thread",        "yes: the thread becomes a conversation"),
    ("a mention",            "Manage Threads",                 "the owner's thread",        "yes: the thread becomes a conversation"),
    ("a mention",            "someone else",                   "the owner's thread",        "no: answered on its own"),
    ("opening a thread",     "someone else",                   "a channel",                 "yes"),
    ("opening a thread",     "the bot, without threads",       "a channel",                 no("create_public_threads")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "who", "where", "answer"),
    ROWS,
    ids=[" by ".join(row[:2]) + " in " + row[2] for row in ROWS],
)
def test_who_may_do_what(what, who, where, answer):
    (user_id, flags), (place, owner) = PEOPLE[who], PLACES[where]
    assert ask(what, user_id, flags, place, owner) == answer


def test_a_mention_in_a_thread_whose_owner_discord_did_not_say_is_answered_on_its_own():
    assert not policy.may_adopt_thread(SOMEONE, None, manage_threads=False)


def test_what_is_missing_is_named_as_discord_shows_it():
    assert policy.missing(Flags(view_channel=True), policy.TO_OPEN_THREAD) == [
        "Create Public Threads", "Send Messages in Threads",
    ]  # fmt: skip
    assert set(policy.LABELS) == set(Flags.__dataclass_fields__)


def test_the_access_lists_see_the_channel_a_threads_channel_and_the_category():
    assert IN_THREAD.listed_as == {THREAD, CHANNEL}
    assert replace(IN_THREAD, category_id=7).listed_as == {THREAD, CHANNEL, 7}


# -- The operator's access lists (ALLOWED_*, BLOCKED_*, ALLOW_DMS), apart from any command -----

LISTS = Access(
    guilds=frozenset({1}), channels=frozenset({10, 99}), roles=frozenset({5}),
    blocked_users=frozenset({666}), blocked_roles=frozenset({13}),
)  # fmt: skip


@pytest.mark.parametrize(
    ("access", "who", "expected"),
    [
        (Access(), {"user_id": 1, "guild_id": 2, "places": {3}}, None),  # no lists: anyone
        (LISTS, {"user_id": 7, "role_ids": {5}, "guild_id": 1, "places": {10}}, None),
        (LISTS, {"user_id": 7, "role_ids": {5}, "guild_id": 1, "places": {11, 99}}, None),  # category
        (LISTS, {"user_id": 666, "role_ids": {5}, "guild_id": 1, "places": {10}}, Refusal.BLOCKED),
        (LISTS, {"user_id": 7, "role_ids": {5, 13}, "guild_id": 1, "places": {10}}, Refusal.BLOCKED),
        (LISTS, {"user_id": 7, "role_ids": {5}, "guild_id": 2, "places": {10}}, Refusal.GUILD),
        (LISTS, {"user_id": 7, "role_ids": {5}, "guild_id": 1, "places": {11}}, Refusal.CHANNEL),
        (LISTS, {"user_id": 7, "role_ids": {4}, "guild_id": 1, "places": {10}}, Refusal.ROLE),
        (LISTS, {"user_id": 7}, None),  # a DM
        (Access(dms=False), {"user_id": 7}, Refusal.DMS),
        (Access(dms=False, blocked_users=frozenset({7})), {"user_id": 7}, Refusal.BLOCKED),
    ],
)  # fmt: skip
def test_refusals(access, who, expected):
    assert access.refusal(**who) is expected


# Outside the bot's servers: a DM (no guild), or a server reached only through /chat (guild 3).
# The person was looked up in the servers the lists name: ``memberships`` (None: it failed).
M = Membership
BLOCKED_ONLY = Access(blocked_roles=frozenset({13}))
ROLES = Access(roles=frozenset({5}), blocked_roles=frozenset({13}))
CHANNELS = Access(channels=frozenset({10}))
ROLES_IN_ONE = Access(guilds=frozenset({1}), roles=frozenset({5, 6}))


@pytest.mark.parametrize(
    ("access", "who", "expected"),
    [
        (Access(), {"memberships": None}, None),  # no lists: nothing to look up
        (Access(blocked_users=frozenset({7})), {"memberships": []}, Refusal.BLOCKED),
        (Access(dms=False), {"memberships": []}, Refusal.DMS),
        (BLOCKED_ONLY, {"memberships": []}, None),  # shares no server: nothing blocks them
        (BLOCKED_ONLY, {"memberships": [M(1, frozenset({13}))]}, Refusal.BLOCKED),
        (BLOCKED_ONLY, {"memberships": [M(1, frozenset({4}))]}, None),
        (BLOCKED_ONLY, {"memberships": None}, Refusal.UNCHECKED),  # fail closed
        (ROLES, {"memberships": []}, Refusal.MEMBERS),  # a stranger
        (ROLES, {"memberships": [M(1)]}, Refusal.MEMBERS),  # a member without the role
        (ROLES, {"memberships": [M(1, frozenset({5}))]}, None),
        (ROLES, {"memberships": [M(1, frozenset({5})), M(2, frozenset({13}))]}, Refusal.BLOCKED),
        (ROLES_IN_ONE, {"memberships": [M(2, frozenset({6}))]}, Refusal.MEMBERS),  # not allowed
        (CHANNELS, {"memberships": [M(1)], "channel_guilds": {1}}, None),
        (CHANNELS, {"memberships": [M(2)], "channel_guilds": {1}}, Refusal.MEMBERS),
        # A server without the bot, through /chat: its own lists first, then the look-up.
        (BLOCKED_ONLY, {"memberships": [M(1, frozenset({13}))], "guild_id": 3}, Refusal.BLOCKED),
        (ROLES, {"memberships": [M(1, frozenset({5}))], "guild_id": 3}, Refusal.ROLE),
        (Access(guilds=frozenset({1})), {"memberships": [], "guild_id": 3}, Refusal.GUILD),
    ],
)  # fmt: skip
def test_refusals_outside_the_bots_servers(access, who, expected):
    assert access.outside_refusal(user_id=7, **who) is expected


@pytest.mark.parametrize(
    ("access", "expected"),
    [
        (Access(), set()),
        (BLOCKED_ONLY, {1}),  # where the blocked role is
        (ROLES, {1, 2}),  # the allowed role's server, and the blocked one's
        (ROLES_IN_ONE, set()),  # role 6 is in server 2, which ALLOWED_GUILDS leaves out
        (CHANNELS, {4}),  # the allowed channel's server
        (Access(roles=frozenset({5}), channels=frozenset({10})), set()),  # role and channel apart
    ],
)  # fmt: skip
def test_the_servers_a_person_is_looked_up_in(access, expected):
    role_guilds = {13: 1, 5: 2, 6: 2}  # role -> the server holding it
    assert access.guilds_to_look_up(role_guilds, channel_guilds={4}) == expected
