"""The operator's access lists, as one table of rules."""

from __future__ import annotations

import pytest

from bot.core.access import Access, Membership, NoticeThrottle, Refusal
from bot.core.bounded import TtlCache

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


def test_a_refused_person_is_told_once_in_a_while():
    now = [0.0]
    throttle = NoticeThrottle(every=300, clock=lambda: now[0])
    assert throttle.should_tell(1) and not throttle.should_tell(1) and throttle.should_tell(2)
    now[0] = 301
    assert throttle.should_tell(1)


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


def test_the_look_up_cache_is_bounded_and_forgets():
    now = [0.0]
    cache: TtlCache[int, str] = TtlCache(ttl=600, maxsize=2, clock=lambda: now[0])
    cache.put(1, "a")
    cache.put(2, "b")
    cache.put(3, "c")
    assert len(cache) == 2 and cache.get(1) is None and cache.get(3) == "c"
    now[0] = 601
    assert cache.get(2) is None and cache.get(3) is None
