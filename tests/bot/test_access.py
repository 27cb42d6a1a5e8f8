"""The operator's access lists, as one table of rules."""

from __future__ import annotations

import pytest

from bot.access import Access, NoticeThrottle, Refusal

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
