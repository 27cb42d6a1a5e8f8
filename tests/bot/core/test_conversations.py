"""Where a conversation starts, and under which id: one table (the Discord side only reads the
place; :func:`where_to_start` decides)."""

from __future__ import annotations

import pytest

from bot.core.conversations import Start, where_to_start
from bot.core.policy import Kind, Place

ASKER, OWNER, MESSAGE, GUILD, CHANNEL, THREAD = 1, 2, 50, 100, 200, 300
THREADS = Place(THREAD, Kind.THREAD, guild_id=GUILD, parent_id=CHANNEL, thread_owner_id=OWNER)


@pytest.mark.parametrize(
    ("place", "asked", "start"),
    [
        # The bot's DM: the DM's own conversation.
        (Place(CHANNEL, Kind.DM), {}, Start(CHANNEL, None, None, ASKER)),
        # A place reached only through /chat (a group DM, a server without the bot): the
        # place's, belonging to no server, never listened to.
        (Place(CHANNEL, Kind.DM, absent=True), {}, Start(CHANNEL, None, None, ASKER, True)),
        (Place(CHANNEL, Kind.TEXT, guild_id=GUILD, absent=True), {"message_id": MESSAGE},
         Start(CHANNEL, None, None, ASKER, via_interaction=True)),
        # A text channel: a thread on the message, by the message's id.
        (Place(CHANNEL, Kind.TEXT, guild_id=GUILD), {"message_id": MESSAGE},
         Start(MESSAGE, GUILD, CHANNEL, ASKER, new_thread=True)),
        (Place(CHANNEL, Kind.TEXT, guild_id=GUILD), {}, None),  # a command: no message
        # A thread: taken over by its owner or Manage Threads; else the message on its own.
        (THREADS, {"message_id": MESSAGE, "manage_threads": True},
         Start(THREAD, GUILD, CHANNEL, ASKER)),
        (THREADS, {"message_id": MESSAGE}, Start(MESSAGE, GUILD, THREAD, ASKER)),
        (THREADS, {}, None),
        # Elsewhere in a server (a voice channel's chat, a channel not cached): none.
        (Place(CHANNEL, Kind.OTHER, guild_id=GUILD), {"message_id": MESSAGE}, None),
    ],
)  # fmt: skip
def test_where_a_conversation_starts(place, asked, start):
    assert where_to_start(place, ASKER, **asked) == start


def test_the_thread_owner_takes_their_thread_over():
    assert where_to_start(THREADS, OWNER, message_id=MESSAGE) == Start(
        THREAD, GUILD, CHANNEL, OWNER
    )
