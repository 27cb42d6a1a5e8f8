"""Plain values for the policy, read from discord.py's objects (stand-ins where no Discord)."""

from __future__ import annotations

from types import SimpleNamespace

import discord

from bot.app.places import flags_of, place_of, role_ids_of
from bot.core.policy import Flags, Kind


def test_permission_flags_are_read_by_name_aliases_included():
    permissions = discord.Permissions(view_channel=True, manage_threads=True, kick_members=True)
    assert flags_of(permissions) == Flags(view_channel=True, manage_threads=True)


def test_a_channel_is_listed_as_itself_and_its_category():
    channel = SimpleNamespace(category_id=7)  # not cached as a text channel: "other"
    place = place_of(channel, 10, 1)
    assert place.kind is Kind.OTHER and place.listed_as == {10, 7} and place.in_server


def test_a_place_without_a_server_is_a_dm_and_may_be_one_the_bot_is_absent_from():
    assert place_of(None, 10, None).kind is Kind.DM
    assert not place_of(None, 10, None, absent=True).in_server
    assert not place_of(None, 10, 1, absent=True).in_server


def test_roles_are_a_members_only():
    member = SimpleNamespace(roles=[SimpleNamespace(id=5), SimpleNamespace(id=6)])
    assert role_ids_of(member) == {5, 6} and role_ids_of(SimpleNamespace()) == frozenset()
