"""Who may do what: one table of rules."""

from __future__ import annotations

import pytest

from bot.core.permissions import (
    TO_OPEN_THREAD,
    may_adopt_thread,
    may_manage_conversation,
    may_stop_reply,
    missing,
)


@pytest.mark.parametrize(
    ("user", "askers", "moderator", "allowed"),
    [(1, {1, 2}, False, True), (2, {1, 2}, False, True), (3, {1, 2}, False, False),
     (3, {1, 2}, True, True)],
)  # fmt: skip
def test_who_may_stop_a_reply(user, askers, moderator, allowed):
    assert may_stop_reply(user, askers, manage_messages=moderator) is allowed


@pytest.mark.parametrize(
    ("user", "owner", "manage_threads", "allowed"),
    [(1, 1, False, True), (2, 1, False, False), (2, 1, True, True)],
)
def test_who_may_manage_a_conversation(user, owner, manage_threads, allowed):
    assert may_manage_conversation(user, owner, manage_threads=manage_threads) is allowed


@pytest.mark.parametrize(
    ("asker", "thread_owner", "manage_threads", "adopts"),
    [
        (1, 1, False, True),  # the thread's owner
        (2, 1, True, True),  # a moderator
        (2, 1, False, False),  # anyone else: answered on their own
        (2, None, False, False),  # an owner Discord didn't say
    ],
    ids=["owner", "moderator", "someone else", "unknown owner"],
)
def test_who_makes_a_thread_a_conversation(asker, thread_owner, manage_threads, adopts):
    assert may_adopt_thread(asker, thread_owner, manage_threads=manage_threads) is adopts


def test_missing_names_what_discord_shows():
    granted = {"view_channel", "create_public_threads"}
    assert missing(granted.__contains__, TO_OPEN_THREAD) == ["Send Messages in Threads"]
    assert missing(lambda _: True, TO_OPEN_THREAD) == []
