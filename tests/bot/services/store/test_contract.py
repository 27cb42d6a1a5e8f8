"""The Store contract, run against every implementation (SQLite, PostgreSQL).

Each test gets a fresh database through ``backend``; ``store`` is one open store on it. A new
Store method gets its tests here, so both implementations must pass them. What only one store
does (WAL, advisory locks, reconnects) lives in test_store_sqlite.py and test_store_postgres.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from bot.core.store import Image, Scope, ScopedChoices, Store, ToolSwitches, TurnStatus
from bot.services.store import SQLiteStore


@dataclass(frozen=True, slots=True)
class Backend:
    """One test's database, and a way to open (more) stores on it."""

    name: str
    new_store: Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Backend:
    if request.param == "sqlite":
        path = str(tmp_path / "bot.sqlite3")
        return Backend("sqlite", lambda: SQLiteStore(path))
    # A fresh schema, dropped after the test; skips without TEST_DATABASE_URL.
    return Backend("postgres", request.getfixturevalue("pg_database").store)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    store = backend.new_store()
    await store.open()
    yield store
    await store.close()


async def choices(store, *, conversation_id=None, channel_id=None, guild_id=None):
    return await store.get_choices(
        conversation_id=conversation_id, channel_id=channel_id, guild_id=guild_id
    )


async def _conversation(store, conversation_id=1):
    return await store.create_conversation(conversation_id, guild_id=10, parent_id=20, owner_id=30)


async def _user_turns(store, count, *, tokens=1, conversation_id=1, first_message=1):
    return [
        await store.add_turn(
            conversation_id, role="user", content=f"m{i}", tokens=tokens,
            message_id=first_message + i, author_name="alice",
        )
        for i in range(count)
    ]  # fmt: skip


async def test_create_conversation_is_idempotent(store):
    first = await _conversation(store)
    again = await store.create_conversation(1, guild_id=99, parent_id=99, owner_id=99)
    assert again == first
    assert first.owner_id == 30 and first.history_start == 0
    assert await store.get_conversation(2) is None


async def test_a_place_reached_only_through_chat_is_kept_apart_until_adopted(store):
    place = await store.create_conversation(
        7, guild_id=None, parent_id=None, owner_id=30, via_interaction=True
    )
    assert place.via_interaction and (await store.get_conversation(7)).via_interaction
    await _conversation(store, 5)
    assert await store.conversation_ids(10) == [5]  # messages never reach the place
    again = await store.create_conversation(
        7, guild_id=None, parent_id=None, owner_id=99, via_interaction=True
    )
    assert again == place  # a later /chat there continues it
    adopted = await store.create_conversation(7, guild_id=10, parent_id=20, owner_id=40)
    assert not adopted.via_interaction and (adopted.guild_id, adopted.owner_id) == (10, 40)
    assert await store.conversation_ids(10) == [7, 5]
    kept = await store.create_conversation(
        7, guild_id=None, parent_id=None, owner_id=30, via_interaction=True
    )
    assert kept == adopted  # never back: an ordinary conversation stays one


async def test_discord_sized_ids_round_trip(store):
    # Snowflakes use 63 bits: they need BIGINT columns, not INTEGER.
    big = 1_312_345_678_901_234_567
    conversation = await store.create_conversation(
        big, guild_id=big + 1, parent_id=big + 2, owner_id=big + 3
    )
    assert (conversation.id, conversation.guild_id, conversation.parent_id, conversation.owner_id) == (
        big, big + 1, big + 2, big + 3,
    )  # fmt: skip
    turn = await store.add_turn(big, role="user", content="hi", tokens=1, message_id=big + 4)
    assert turn.message_id == big + 4 and turn.conversation_id == big
    await store.set_default_persona(Scope.GUILD, big, "pirate")
    assert (await choices(store, guild_id=big)).guild_persona == "pirate"


async def test_add_turn_returns_what_was_stored(store):
    await _conversation(store)
    turn = await store.add_turn(
        1, role="user", content="hi", tokens=5, message_id=500, author_name="alice"
    )
    assert (turn.conversation_id, turn.message_id, turn.role, turn.content) == (
        1,
        500,
        "user",
        "hi",
    )
    assert (turn.author_name, turn.tokens, turn.status) == ("alice", 5, TurnStatus.COMPLETE)
    assert await store.newest_turns(1, limit=1) == [turn]


async def test_same_discord_message_twice_is_a_no_op(store):
    await _conversation(store)
    first = await store.add_turn(1, role="user", content="hi", tokens=5, message_id=500)
    second = await store.add_turn(1, role="user", content="hi", tokens=5, message_id=500)
    assert first is not None and second is None
    assert len(await store.newest_turns(1, limit=10)) == 1


async def test_turns_without_a_message_are_all_stored(store):
    await _conversation(store)
    first = await store.add_turn(1, role="assistant", content="a", tokens=1)
    second = await store.add_turn(1, role="assistant", content="a", tokens=1)
    assert first.seq < second.seq


async def test_newest_turns_pages_newest_first(store):
    await _conversation(store)
    await _user_turns(store, 10)
    page = await store.newest_turns(1, limit=4)
    assert [t.content for t in page] == ["m9", "m8", "m7", "m6"]
    page = await store.newest_turns(1, limit=4, before_seq=page[-1].seq)
    assert [t.content for t in page] == ["m5", "m4", "m3", "m2"]


async def test_turns_stay_in_their_conversation(store):
    await _conversation(store, 1)
    await _conversation(store, 2)
    await _user_turns(store, 3, conversation_id=1)
    await _user_turns(store, 2, conversation_id=2, first_message=100)
    assert len(await store.newest_turns(1, limit=10)) == 3
    assert len(await store.newest_turns_within(2, 1000, after_seq=0)) == 2


async def test_reset_hides_earlier_turns_and_the_summary(store):
    await _conversation(store)
    (before,) = await _user_turns(store, 1)
    assert await store.save_summary(1, "a summary", before.seq)
    await store.reset_conversation(1)
    await store.add_turn(1, role="user", content="after", tokens=1, message_id=2)
    assert [t.content for t in await store.newest_turns(1, limit=10)] == ["after"]
    conversation = await store.get_conversation(1)
    assert conversation.summary is None
    assert conversation.history_start == conversation.summary_through == before.seq


async def test_reset_deletes_the_turns_their_images_and_reasoning(store):
    await _conversation(store)
    question, *_ = await _user_turns(store, 2)
    await store.add_images(question.seq, [Image("image/png", b"px", 1, 1)])
    reply = await store.add_turn(1, role="assistant", content="answer", tokens=1)
    await store.set_reasoning(reply.seq, "thinking about m0")
    assert await store.reset_conversation(1) == 3
    assert await store.turns_between(1, 0, 10**9) == []
    assert await store.images_of([question.seq]) == {}
    assert await store.get_reasoning(reply.seq) is None
    # A summary begun before the reset can't be saved over it.
    assert not await store.save_summary(1, "stale summary", reply.seq)
    assert await store.reset_conversation(1) == 0
    assert await store.reset_conversation(404) == 0


async def test_update_turn_and_attach_message(store):
    await _conversation(store)
    turn = await store.add_turn(
        1, role="assistant", content="", tokens=3, status=TurnStatus.STREAMING
    )
    await store.attach_message(turn.seq, 900)
    await store.update_turn(turn.seq, content="done", tokens=7, status=TurnStatus.COMPLETE)
    (stored,) = await store.newest_turns(1, limit=1)
    assert (stored.content, stored.tokens, stored.status, stored.message_id) == (
        "done", 7, TurnStatus.COMPLETE, 900,
    )  # fmt: skip
    await store.update_turn(
        turn.seq, content="x", tokens=1, status=TurnStatus.INTERRUPTED, message_id=901
    )
    (stored,) = await store.newest_turns(1, limit=1)
    assert (stored.status, stored.message_id) == (TurnStatus.INTERRUPTED, 901)


async def test_edit_and_delete_by_message_id(store):
    await _conversation(store)
    await store.add_turn(1, role="user", content="old", tokens=1, message_id=7)
    assert await store.edit_message(7, "new", 3)
    assert [(t.content, t.tokens) for t in await store.newest_turns(1, limit=1)] == [("new", 3)]
    assert not await store.edit_message(8, "nothing there", 1)
    assert await store.delete_message(7)
    assert not await store.delete_message(7)
    assert await store.newest_turns(1, limit=1) == []


async def test_edits_touch_only_user_turns(store):
    await _conversation(store)
    await store.add_turn(1, role="assistant", content="reply", tokens=1, message_id=7)
    assert not await store.edit_message(7, "changed", 1)
    assert (await store.newest_turns(1, limit=1))[0].content == "reply"


async def test_the_user_turn_of_a_message(store):
    await _conversation(store)
    (turn,) = await _user_turns(store, 1, first_message=2**63 - 5)  # a Discord-sized id
    await store.add_turn(1, role="assistant", content="reply", tokens=1, message_id=9)
    assert await store.user_turn(2**63 - 5) == turn
    assert await store.user_turn(9) is None  # a reply is not a user's turn
    assert await store.user_turn(8) is None  # nothing stored for that message


async def test_streaming_turns_become_interrupted(store):
    await _conversation(store)
    shown = await store.add_turn(
        1, role="assistant", content="", tokens=2, status=TurnStatus.STREAMING
    )
    await store.attach_message(shown.seq, 777)
    unseen = await store.add_turn(
        1, role="assistant", content="", tokens=2, status=TurnStatus.STREAMING
    )
    interrupted = await store.interrupt_streaming_turns()
    assert [(t.seq, t.message_id) for t in interrupted] == [(shown.seq, 777), (unseen.seq, None)]
    assert all(t.status is TurnStatus.INTERRUPTED for t in interrupted)
    assert await store.interrupt_streaming_turns() == []  # once only
    await store.delete_turn(unseen.seq)
    (stored,) = await store.newest_turns(1, limit=5)
    assert stored.seq == shown.seq and stored.status is TurnStatus.INTERRUPTED
    assert await store.interrupt_streaming_turns() == []


async def test_conversation_ids_newest_first(store):
    for conversation_id in (5, 3, 9):
        await _conversation(store, conversation_id)
    assert await store.conversation_ids(2) == [9, 5]  # snowflakes: the newest first


async def test_personas_by_scope(store):
    await _conversation(store)
    await store.set_default_persona(Scope.GUILD, 10, "pirate")
    await store.set_default_persona(Scope.GUILD, 10, "captain")
    await store.set_default_persona(Scope.CHANNEL, 20, "bard")
    assert await choices(store, channel_id=20, guild_id=10) == ScopedChoices(
        channel_persona="bard", guild_persona="captain"
    )
    assert await choices(store, channel_id=10) == ScopedChoices()  # by scope, not by id
    await store.set_default_persona(Scope.GUILD, 10, None)
    assert (await choices(store, guild_id=10)).guild_persona is None
    await store.set_conversation_persona(1, "poet")
    assert (await store.get_conversation(1)).persona == "poet"


async def test_meta_is_set_and_replaced(store):
    assert await store.get_meta("commands_digest") is None
    await store.set_meta("commands_digest", "a")
    await store.set_meta("commands_digest", "b")
    assert await store.get_meta("commands_digest") == "b"


async def test_usage_adds_up_per_day_user_and_guild(store):
    today = dt.date(2026, 11, 24)
    for user in (1, 1, 2):
        await store.add_usage(
            guild_id=10,
            user_id=user,
            day=today,
            prompt_tokens=100,
            completion_tokens=10,
            cached_tokens=50,
        )
    await store.add_usage(guild_id=None, user_id=1, day=today, prompt_tokens=7, completion_tokens=1)
    await store.add_usage(
        guild_id=10, user_id=1, day=today - dt.timedelta(days=1), prompt_tokens=1000,
        completion_tokens=0,
    )  # fmt: skip
    guild = await store.usage(guild_id=10, since=today)
    assert (guild.requests, guild.prompt_tokens, guild.completion_tokens, guild.cached_tokens) == (
        3,
        300,
        30,
        150,
    )
    assert (await store.usage(guild_id=10, since=today, user_id=1)).total_tokens == 220
    assert (await store.usage(guild_id=None, since=today)).prompt_tokens == 7
    assert (await store.usage(guild_id=10, since=today + dt.timedelta(days=1))).requests == 0
    assert (await store.usage(guild_id=10, since=today - dt.timedelta(days=1))).requests == 4


async def test_what_a_person_spent_on_a_day_counts_every_server_and_their_dms(store):
    today = dt.date(2026, 11, 24)
    for guild, user, day, cost in (
        (10, 1, today, 0.25), (11, 1, today, 0.5), (None, 1, today, 0.125), (10, 2, today, 4.0),
        (10, 1, today - dt.timedelta(days=1), 8.0),
    ):  # fmt: skip
        await store.add_usage(guild_id=guild, user_id=user, day=day, prompt_tokens=1,
                              completion_tokens=1, cost=cost)  # fmt: skip
    assert await store.spent_by(user_id=1, day=today) == 0.875  # the daily budget's seed
    assert await store.spent_by(user_id=3, day=today) == 0.0


async def test_evict_and_summaries_move_the_history_start_forward_only(store):
    await _conversation(store)
    turns = await _user_turns(store, 6)
    await store.evict(1, turns[3].seq)
    await store.evict(1, turns[1].seq)  # an older eviction arriving late changes nothing
    assert (await store.get_conversation(1)).history_start == turns[3].seq
    assert [t.content for t in await store.turns_between(1, turns[0].seq, turns[3].seq)] == [
        "m1", "m2", "m3",
    ]  # fmt: skip
    assert await store.save_summary(1, "first two", turns[1].seq)
    assert not await store.save_summary(1, "stale", turns[0].seq)  # a newer summary came first
    conversation = await store.get_conversation(1)
    assert (conversation.summary, conversation.summary_through) == ("first two", turns[1].seq)
    assert conversation.history_start == turns[3].seq
    assert await store.save_summary(1, "first five", turns[4].seq)
    conversation = await store.get_conversation(1)
    assert (conversation.summary, conversation.history_start) == ("first five", turns[4].seq)
    assert [t.content for t in await store.newest_turns(1, limit=10)] == ["m5"]


async def test_token_counts_are_recounted_in_pages(store):
    await _conversation(store, 1)
    await _conversation(store, 2)
    await _user_turns(store, 3, conversation_id=1)
    await _user_turns(store, 2, conversation_id=2, first_message=100)
    first = await store.turns_after(0, 4)
    assert len(first) == 4 and [t.seq for t in first] == sorted(t.seq for t in first)
    rest = await store.turns_after(first[-1].seq, 4)
    assert len(rest) == 1
    await store.set_token_counts([(t.seq, 40 + i) for i, t in enumerate(first + rest)])
    assert [t.tokens for t in await store.turns_after(0, 10)] == [40, 41, 42, 43, 44]


@pytest.mark.parametrize(("budget", "expected"), [(0, 1), (10, 2), (25, 3), (30, 4), (10_000, 20)])
async def test_newest_turns_within_a_budget(store, budget, expected):
    await _conversation(store)
    await _user_turns(store, 20, tokens=10)
    turns = await store.newest_turns_within(1, budget, after_seq=0)
    # All that fit, plus the next older one (so the caller knows more exist).
    assert [t.content for t in turns] == [f"m{19 - i}" for i in range(expected)]


async def test_newest_turns_within_grows_its_window_and_respects_resets(store):
    await _conversation(store)
    await _user_turns(store, 1000)
    # The first window holds 64 turns; it grows to 512, then 4,096.
    assert len(await store.newest_turns_within(1, 700, after_seq=0)) == 701
    await store.reset_conversation(1)
    await store.add_turn(1, role="user", content="new", tokens=1, message_id=99_999)
    start = (await store.get_conversation(1)).history_start
    assert [t.content for t in await store.newest_turns_within(1, 700, after_seq=start)] == ["new"]


async def test_a_second_store_sees_the_data_and_migrates_nothing(backend, store):
    await _conversation(store)
    await _user_turns(store, 2)
    await store.close()
    again = backend.new_store()
    await again.open()
    try:
        assert [t.content for t in await again.newest_turns(1, limit=5)] == ["m1", "m0"]
    finally:
        await again.close()
    await store.open()  # the fixture closes it


async def test_concurrent_writers_from_two_stores(backend, store):
    other = backend.new_store()
    await other.open()
    await _conversation(store)

    async def write(target, base):
        for i in range(50):
            await target.add_turn(1, role="user", content="x", tokens=1, message_id=base + i)

    try:
        await asyncio.gather(write(store, 1000), write(other, 2000), write(store, 3000))
        assert len(await other.newest_turns(1, limit=1000)) == 150
    finally:
        await other.close()


async def test_newest_turns_within_stops_before_a_reply_being_written(store):
    await _conversation(store)
    first = await store.add_turn(1, role="user", content="q1", tokens=1, message_id=1)
    reply = await store.add_turn(
        1, role="assistant", content="", tokens=1, status=TurnStatus.STREAMING
    )
    await store.add_turn(1, role="user", content="q2", tokens=1, message_id=2)
    turns = await store.newest_turns_within(1, 100, after_seq=0, before_seq=reply.seq)
    assert [t.seq for t in turns] == [first.seq]


async def test_reasoning_is_kept_apart_from_the_reply(store):
    await _conversation(store)
    reply = await store.add_turn(1, role="assistant", content="42", tokens=3)
    assert await store.get_reasoning(reply.seq) is None
    await store.set_reasoning(reply.seq, "Let me think: six times seven.")
    assert await store.get_reasoning(reply.seq) == "Let me think: six times seven."
    (turn,) = await store.newest_turns(1, limit=1)
    assert turn.content == "42"


async def test_tool_calls_are_kept_apart_from_the_reply_with_their_tokens(store):
    await _conversation(store)
    plain = await store.add_turn(1, role="assistant", content="hi", tokens=1)
    reply = await store.add_turn(1, role="assistant", content="It is noon.", tokens=4)
    await store.set_tools(reply.seq, '{"rounds": []}', 57)
    assert await store.tools_of([plain.seq, reply.seq]) == {reply.seq: ('{"rounds": []}', 57)}
    assert await store.tools_of([]) == {}
    (turn, _) = await store.newest_turns(1, limit=2)
    assert turn.content == "It is noon." and turn.tokens == 4


async def test_a_reply_overtaken_by_a_reset_keeps_no_tool_calls(store):
    await _conversation(store)
    writing = await store.add_turn(1, role="assistant", content="", tokens=1,
                                   status=TurnStatus.STREAMING)  # fmt: skip
    await store.reset_conversation(1)
    await store.set_tools(writing.seq, '{"rounds": []}', 5)
    assert await store.tools_of([writing.seq]) == {}


async def test_images_of_turns_in_order_and_gone_with_their_turn(store):
    await _conversation(store)
    first = await store.add_turn(1, role="user", content="look", tokens=3, message_id=1)
    second = await store.add_turn(1, role="user", content="no image", tokens=3, message_id=2)
    images = [
        Image("image/png", b"\x89PNG one", 10, 20),
        Image("image/jpeg", b"\xff\xd8 two", 5, 5),
    ]
    await store.add_images(first.seq, images)
    await store.add_images(first.seq, images)  # a redelivered message adds nothing
    assert await store.images_of([first.seq, second.seq]) == {first.seq: images}
    assert await store.images_of([]) == {}
    await store.delete_message(1)
    assert await store.images_of([first.seq]) == {}


async def test_model_choices_by_scope(store):
    await store.set_model(Scope.GUILD, 10, "gpt-4o")
    await store.set_model(Scope.GUILD, 10, "gpt-5-mini")  # replaced
    await store.set_model(Scope.CHANNEL, 10, "llama3.1")  # same id, another scope
    await store.set_model(Scope.CONVERSATION, 5, "o4-mini")
    assert await choices(store, conversation_id=5, channel_id=10, guild_id=10) == ScopedChoices(
        conversation_model="o4-mini", channel_model="llama3.1", guild_model="gpt-5-mini"
    )
    await store.set_model(Scope.GUILD, 10, None)
    assert await choices(store, conversation_id=10, guild_id=10) == ScopedChoices()


async def test_voice_choices_by_scope(store):
    await _conversation(store, 5)
    await store.set_voice(Scope.GUILD, 10, True)
    await store.set_voice(Scope.CHANNEL, 10, False)  # same id, another scope
    await store.set_voice(Scope.CONVERSATION, 5, True)
    await store.set_voice(Scope.CONVERSATION, 5, False)  # replaced
    assert await choices(store, conversation_id=5, channel_id=10, guild_id=10) == ScopedChoices(
        conversation_voice=False, channel_voice=False, guild_voice=True
    )
    await store.set_voice(Scope.GUILD, 10, None)
    assert (await choices(store, guild_id=10)).guild_voice is None
    assert await store.delete_conversation(5)
    assert (await choices(store, conversation_id=5)).conversation_voice is None


async def test_tool_switches_by_scope(store):
    await store.set_tool_switch(Scope.GUILD, 10, "fetch", False)
    await store.set_tool_switch(Scope.GUILD, 10, "fetch", True)  # replaced
    await store.set_tool_switch(Scope.GUILD, 10, "time", False)
    await store.set_tool_switch(Scope.CHANNEL, 10, "fetch", False)  # same id, another scope
    await store.set_tool_switch(Scope.CHANNEL, 11, "time", True)  # another channel
    assert await store.tool_switches(channel_id=10, guild_id=10) == ToolSwitches(
        channel={"fetch": False}, guild={"fetch": True, "time": False}
    )
    await store.set_tool_switch(Scope.GUILD, 10, "fetch", None)
    await store.set_tool_switch(Scope.GUILD, 10, "gone", None)  # nothing to clear: fine
    assert await store.tool_switches(channel_id=None, guild_id=10) == ToolSwitches(
        guild={"time": False}
    )
    assert await store.tool_switches(channel_id=None, guild_id=None) == ToolSwitches()


async def test_forget_user_deletes_their_turns_usage_and_the_summaries_that_may_quote_them(store):
    await _conversation(store)
    await store.add_turn(
        1, role="user", content="alice's secret", tokens=3, message_id=1, author_id=7
    )
    reply = await store.add_turn(1, role="assistant", content="noted", tokens=3)
    await store.add_turn(1, role="user", content="bob here", tokens=3, message_id=2, author_id=8)
    await store.save_summary(1, "alice told a secret", reply.seq)
    day = dt.date(2026, 1, 1)
    for user in (7, 8):
        await store.add_usage(
            guild_id=10, user_id=user, day=day, prompt_tokens=5, completion_tokens=1
        )
    assert await store.forget_user(7) == 1
    remaining = await store.turns_between(1, 0, 10**9)
    assert [t.content for t in remaining] == ["noted", "bob here"]
    assert (await store.get_conversation(1)).summary is None
    assert (await store.usage(guild_id=10, since=day, user_id=7)).requests == 0
    assert (await store.usage(guild_id=10, since=day, user_id=8)).requests == 1


async def test_forget_user_deletes_the_reasoning_that_may_quote_them(store):
    await _conversation(store)
    early = await store.add_turn(1, role="assistant", content="hello", tokens=1)
    await store.set_reasoning(early.seq, "before alice came")
    await store.add_turn(1, role="user", content="bob", tokens=1, message_id=1, author_id=8)
    await store.add_turn(1, role="user", content="alice", tokens=1, message_id=2, author_id=7)
    answer = await store.add_turn(1, role="assistant", content="hi both", tokens=1)
    await store.set_reasoning(answer.seq, "alice said alice")
    later = await store.add_turn(1, role="assistant", content="more", tokens=1)
    await store.set_reasoning(later.seq, "recalling alice")
    await _conversation(store, 2)  # a conversation alice was never in keeps its reasoning
    other = await store.add_turn(2, role="assistant", content="x", tokens=1)
    await store.set_reasoning(other.seq, "unrelated")
    assert await store.forget_user(7) == 1
    assert await store.get_reasoning(answer.seq) is None
    assert await store.get_reasoning(later.seq) is None
    assert await store.get_reasoning(early.seq) == "before alice came"
    assert await store.get_reasoning(other.seq) == "unrelated"


async def test_forget_user_deletes_the_tool_calls_that_may_quote_them(store):
    await _conversation(store)
    early = await store.add_turn(1, role="assistant", content="hello", tokens=1)
    await store.set_tools(early.seq, "before", 3)
    await store.add_turn(1, role="user", content="alice", tokens=1, message_id=2, author_id=7)
    answer = await store.add_turn(1, role="assistant", content="found it", tokens=1)
    await store.set_tools(answer.seq, "searched for alice", 4)
    assert await store.forget_user(7) == 1
    assert await store.tools_of([early.seq, answer.seq]) == {early.seq: ("before", 3)}


async def test_a_reply_overtaken_by_a_forget_keeps_no_reasoning(store):
    await _conversation(store)
    await store.add_turn(1, role="user", content="alice", tokens=1, message_id=1, author_id=7)
    writing = await store.add_turn(1, role="assistant", content="", tokens=1,
                                   status=TurnStatus.STREAMING)  # fmt: skip
    await store.forget_user(7)  # while the reply is being written: it read alice's words
    await store.set_reasoning(writing.seq, "alice said alice")
    assert await store.get_reasoning(writing.seq) is None
    await store.add_turn(1, role="user", content="bob", tokens=1, message_id=2, author_id=8)
    later = await store.add_turn(1, role="assistant", content="hi bob", tokens=1)
    await store.set_reasoning(later.seq, "bob said hi")
    assert await store.get_reasoning(later.seq) == "bob said hi"


async def test_forget_user_finds_turns_from_before_the_author_column(store):
    """author_id NULL: theirs in conversations they started, or under one of their names."""
    await store.create_conversation(1, guild_id=10, parent_id=20, owner_id=7)  # alice's
    await store.create_conversation(2, guild_id=10, parent_id=20, owner_id=8)  # bob's
    said = [
        (1, "alice in her thread", None, 1),
        (1, "carol in alice's thread", "carol", 2),
        (2, "alice in bob's thread", "alice_w", 3),
        (2, "bob in his thread", "bob", 4),
        (2, "someone nameless", None, 5),
    ]
    for conversation_id, text, name, message_id in said:
        await store.add_turn(conversation_id, role="user", content=text, tokens=1,
                             message_id=message_id, author_name=name)  # fmt: skip
    await store.save_summary(2, "bob and alice_w talked", 4)
    assert await store.forget_user(7, names=["alice_w"]) == 3
    left = await store.turns_between(1, 0, 10**9) + await store.turns_between(2, 0, 10**9)
    assert [t.content for t in left] == ["bob in his thread", "someone nameless"]
    assert (await store.get_conversation(2)).summary is None


async def test_forget_user_drops_the_summary_and_refuses_one_begun_before(store):
    await store.create_conversation(1, guild_id=10, parent_id=20, owner_id=8)
    await store.add_turn(1, role="user", content="secret", tokens=1, message_id=1, author_id=7)
    await store.add_turn(1, role="assistant", content="ok", tokens=1)
    bob = await store.add_turn(1, role="user", content="bob", tokens=1, message_id=2, author_id=8)
    assert await store.save_summary(1, "alice's secret", 1)
    await store.forget_user(7)
    conversation = await store.get_conversation(1)
    assert conversation.summary is None
    # A summary job that read alice's words before the forget cannot save them afterwards.
    assert not await store.save_summary(1, "alice's secret again", bob.seq)
    later = await store.add_turn(1, role="user", content="new", tokens=1, message_id=3)
    assert await store.save_summary(1, "only bob", later.seq)  # later summaries work


async def test_a_deleted_place_takes_every_conversation_kept_under_it(store):
    for conversation_id, parent in (
        (1, 20),  # a thread opened from channel 20
        (2, 20),  # another
        (3, 1),  # a message answered on its own in thread 1 (before its owner adopted it)
        (4, 21),  # another channel's thread
        (5, 40),  # answered on its own in thread 40, someone else's
        (20, None),  # a place keyed by the channel itself
    ):
        await store.create_conversation(conversation_id, guild_id=10, parent_id=parent,
                                        owner_id=30)  # fmt: skip
        await store.add_turn(conversation_id, role="user", content="x", tokens=1,
                             message_id=100 + conversation_id)  # fmt: skip
    await store.set_model(Scope.CHANNEL, 20, "m")
    await store.set_model(Scope.CONVERSATION, 1, "m")
    await store.set_default_persona(Scope.CHANNEL, 20, "pirate")
    await store.set_tool_switch(Scope.CHANNEL, 20, "fetch", False)
    assert await store.delete_place(20) == [1, 2, 3, 20]
    assert await store.tool_switches(channel_id=20, guild_id=None) == ToolSwitches()
    assert await store.conversation_ids(10) == [5, 4]
    assert await choices(store, conversation_id=1, channel_id=20) == ScopedChoices()
    assert await store.delete_place(40) == [5]  # a thread: the messages answered in it
    assert await store.delete_place(40) == []


async def test_deleting_a_conversation_and_a_server(store):
    for conversation_id, guild in ((1, 10), (2, 10), (3, 11)):
        await store.create_conversation(conversation_id, guild_id=guild, parent_id=20, owner_id=30)
        await store.add_turn(conversation_id, role="user", content="x", tokens=1,
                             message_id=100 + conversation_id)  # fmt: skip
    await store.set_default_persona(Scope.GUILD, 10, "pirate")
    await store.set_tool_switch(Scope.GUILD, 10, "fetch", False)
    assert await store.delete_conversation(1) and not await store.delete_conversation(1)
    assert await store.delete_guild(10) == [2]
    assert await store.tool_switches(channel_id=None, guild_id=10) == ToolSwitches()
    assert (await choices(store, guild_id=10)).guild_persona is None
    assert await store.conversation_ids(10) == [3]


async def test_idle_conversations_are_deleted(store):
    await _conversation(store, 1)
    await store.add_turn(1, role="user", content="old", tokens=1, message_id=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert await store.delete_idle(later - dt.timedelta(hours=1)) == []  # active an hour ago
    assert await store.delete_idle(later) == [1]
    await store.purge()


async def test_liveness_is_on_the_databases_clock(backend, store):
    # Heartbeats are written and compared with the database's now(): a process whose own
    # clock is 45 s off is alive all the same (no process clock enters these calls).
    other = backend.new_store()  # a second process on the same database
    await other.open()
    try:
        await store.heartbeat("here")
        await other.heartbeat("there")
        await other.heartbeat("silent", ago=61)
        assert sorted(await store.live_workers(60)) == ["here", "there"]
        assert sorted(await other.live_workers(60)) == ["here", "there"]
        await store.retire("here")
        assert await other.live_workers(60) == ["there"]
        await other.heartbeat("silent")  # back: alive again
        assert sorted(await store.live_workers(60)) == ["silent", "there"]
    finally:
        await other.close()
