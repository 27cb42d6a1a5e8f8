"""The built-in tool's arguments, read leniently: what a model writes for "the channel" and
"how many" becomes a channel id and a bounded count, or a clear refusal."""

from __future__ import annotations

import pytest

from bot.app.channel_history import (
    DEFAULT_MESSAGES,
    MAX_MESSAGES,
    ChannelHistory,
    _channel_id,
    _limit,
)
from bot.core.policy import Kind, Place

THREAD = Place(300, Kind.THREAD, guild_id=100, parent_id=200)
CHANNEL_ID = 123456789012345678


@pytest.mark.parametrize(
    ("named", "found"),
    [
        (None, 200),  # the channel the conversation's thread was opened in
        ("", 200),
        (f"<#{CHANNEL_ID}>", CHANNEL_ID),
        (f" #{CHANNEL_ID} ", CHANNEL_ID),
        (str(CHANNEL_ID), CHANNEL_ID),
        (CHANNEL_ID, CHANNEL_ID),
        ("general", None),  # a name is not looked up: ids only
        ("<#12>", None),
        (True, None),
        ([CHANNEL_ID], None),
    ],
)
def test_the_channel_asked_for(named, found):
    assert _channel_id(named, THREAD) == found


def test_a_place_without_a_parent_reads_itself():
    assert _channel_id(None, Place(200, Kind.TEXT, guild_id=100)) == 200


@pytest.mark.parametrize(
    ("asked", "limit"),
    [(None, DEFAULT_MESSAGES), (5, 5), (0, 1), (10_000, MAX_MESSAGES), (7.9, 7), ("20", 20), ("lots", DEFAULT_MESSAGES),
     (True, DEFAULT_MESSAGES)],
)  # fmt: skip
def test_how_many_messages(asked, limit):
    assert _limit(asked) == limit


async def test_offered_only_in_servers_the_bot_is_in():
    host = ChannelHistory(client=None)  # type: ignore[arg-type]: never reached here
    assert [t.function for t in await host.tools(THREAD)] == ["discord__read_channel"]
    assert await host.tools(Place(1, Kind.DM)) == ()
    assert await host.tools(Place(1, Kind.TEXT, guild_id=100, absent=True)) == ()
    refused = await host.call("discord__read_channel", {}, place=Place(1, Kind.DM), asker_id=7)
    assert refused.error
