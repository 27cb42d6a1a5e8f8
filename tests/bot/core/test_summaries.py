"""Block eviction, rolling summaries and prefix stability, without Discord or a model server."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.context import Budget
from bot.core.conversations import EVICT_TO, SUMMARISE_FROM, Conversations
from bot.core.llm import Reply
from bot.core.summaries import Summarizer
from bot.core.tokens import TokenCounter

COUNTER = TokenCounter.for_model("gpt-4o-mini")


@pytest.fixture
def store(conversation_store):
    return conversation_store


class FakeModel:
    def __init__(self, fail: bool = False) -> None:
        self.prompts: list[list[dict[str, str]]] = []
        self.fail = fail

    async def __call__(self, messages, max_tokens):
        self.prompts.append(messages)
        if self.fail:
            raise RuntimeError("model down")
        return Reply(text=f"summary #{len(self.prompts)}")


async def say(conversations, n: int, words: int = 20) -> None:
    await conversations.add_user_turn(
        1, message_id=10_000 + n, content=f"question {n} " + "word " * words, author="alice"
    )
    turn = await conversations.begin_reply(1)
    await conversations.finish_reply(
        turn, f"answer {n} " + "word " * words, status=turn.status.COMPLETE
    )


async def past_the_cap_then_summarise(store, conversations, summarizer):
    """Eight exchanges (past a 300-token cap), a request, then its summary job; the request."""
    for n in range(8):
        await say(conversations, n)
    request = await conversations.build(await store.get_conversation(1), "persona")
    summarizer.request(1, request.summarise_through)
    await summarizer.wait_idle()
    return request


def make(store, history=300):
    return Conversations(
        store,
        COUNTER,
        budget=Budget(100_000, 500),
        history_tokens=history,
    )


async def test_history_within_the_cap_is_sent_whole(store):
    conversations = make(store)
    for n in range(3):
        await say(conversations, n)
    request = await conversations.build(await store.get_conversation(1), "persona")
    assert request.summarise_through is None and request.turns == 6


def history_tokens(request) -> int:
    """The tokens of the turns a request sends (its system message apart)."""
    return sum(
        COUNTER.message(m["role"], m["content"], m.get("name"))
        for m in request.messages
        if m["role"] != "system"
    )


async def test_past_the_soft_threshold_a_block_is_marked_for_summary_but_still_sent(store):
    conversations = make(store, history=300)
    for n in range(4):  # about 230 tokens: past SUMMARISE_FROM (225), within the cap
        await say(conversations, n)
    request = await conversations.build(await store.get_conversation(1), "persona")
    assert request.turns == 8 and not request.dropped  # nothing vanishes before its summary
    assert SUMMARISE_FROM * 300 < history_tokens(request) <= 300
    through = request.summarise_through
    kept = [t for t in await store.newest_turns(1, limit=100) if t.seq > through]
    assert sum(t.tokens for t in kept) <= EVICT_TO * 300
    assert kept  # the newest turns stay


@pytest.mark.parametrize("cap", [256, 300, 1000])
@pytest.mark.parametrize("summaries", ["never ready", "after each reply", "off"])
async def test_no_request_sends_more_history_than_the_cap(store, cap, summaries):
    conversations = make(store, history=cap)
    complete = None if summaries == "off" else FakeModel()
    summarizer = Summarizer(store, COUNTER, complete, max_tokens=50)
    most = 0
    for n in range(40):
        await say(conversations, n, words=10 + (n * 7) % 40)
        request = await conversations.build(await store.get_conversation(1), "persona")
        assert history_tokens(request) <= cap, n
        if request.dropped:  # the window left older turns out: it starts at a question
            assert [m["role"] for m in request.messages[:2]] == ["system", "user"]
        assert request.messages[-1]["content"].startswith(f"answer {n}")
        most = max(most, history_tokens(request))
        if request.summarise_through is not None and summaries != "never ready":
            summarizer.request(1, request.summarise_through)
            await summarizer.wait_idle()
    assert most > cap * SUMMARISE_FROM  # the cap was reached for, not avoided


async def test_a_newest_turn_longer_than_the_cap_is_sent_whole_and_alone(store):
    conversations = make(store, history=300)
    await say(conversations, 0)
    await conversations.add_user_turn(
        1, message_id=99, content="long " + "word " * 400, author="alice"
    )
    request = await conversations.build(await store.get_conversation(1), "persona")
    assert request.turns == 1 and not request.truncated
    assert request.messages[-1]["content"].count("word") == 400


async def test_summary_replaces_the_block_after_the_persona(store):
    conversations = make(store, history=300)
    model = FakeModel()
    summarizer = Summarizer(store, COUNTER, model, max_tokens=100)
    await past_the_cap_then_summarise(store, conversations, summarizer)
    transcript = model.prompts[0][1]["content"]
    assert "question 0" in transcript and "alice:" in transcript and "(none yet)" in transcript

    after = await conversations.build(await store.get_conversation(1), "persona")
    # One opening system message (many chat templates accept no other): persona, then summary.
    (system,) = [m for m in after.messages if m["role"] == "system"]
    assert after.messages[0] is system
    assert system["content"].startswith("persona\n\n") and system["content"].endswith("summary #1")
    assert after.summarise_through is None
    assert all("question 0" not in m["content"] for m in after.messages[1:])
    assert after.prompt_tokens == COUNTER.prompt(after.messages)


async def test_prefix_is_stable_between_blocks(store):
    conversations = make(store, history=400)
    summarizer = Summarizer(store, COUNTER, FakeModel(), max_tokens=100)
    prefixes, changes = [], 0
    for n in range(60):
        await say(conversations, n)
        request = await conversations.build(await store.get_conversation(1), "persona")
        head = request.messages[:3]
        if prefixes and head != prefixes[-1]:
            changes += 1
        prefixes.append(head)
        if request.summarise_through is not None:
            summarizer.request(1, request.summarise_through)
            await summarizer.wait_idle()
    # Each block changes the prefix once (when its summary lands), not every request.
    assert summarizer.calls >= 3
    assert changes <= summarizer.calls + 1


async def test_failed_summary_falls_back_to_the_plain_window_and_retries(store):
    conversations = make(store, history=300)
    model = FakeModel(fail=True)
    summarizer = Summarizer(store, COUNTER, model, max_tokens=100)
    request = await past_the_cap_then_summarise(store, conversations, summarizer)
    conversation = await store.get_conversation(1)
    assert conversation.summary is None and conversation.history_start == request.summarise_through
    retry = await conversations.build(conversation, "persona")
    assert retry.summarise_through == conversation.history_start  # still owed a summary
    model.fail = False
    summarizer.request(1, retry.summarise_through)
    await summarizer.wait_idle()
    assert len(model.prompts) == 1  # not retried at once: the model just failed
    summarizer._failed_at[1] -= 10_000  # ...but after a while
    summarizer.request(1, retry.summarise_through)
    await summarizer.wait_idle()
    assert (await store.get_conversation(1)).summary == "summary #2"


async def test_summaries_off_just_drop_the_block(store):
    conversations = make(store, history=300)
    summarizer = Summarizer(store, COUNTER, None, max_tokens=100)
    request = await past_the_cap_then_summarise(store, conversations, summarizer)
    after = await conversations.build(await store.get_conversation(1), "persona")
    assert after.turns < request.turns and after.messages[1]["role"] == "user"


async def test_reset_clears_the_summary_and_a_late_summary_is_ignored(store):
    conversations = make(store, history=300)
    for n in range(8):
        await say(conversations, n)
    assert await store.save_summary(1, "old summary", 5)
    await store.reset_conversation(1)
    conversation = await store.get_conversation(1)
    assert conversation.summary is None
    assert not await store.save_summary(1, "too late", 6)
    request = await conversations.build(conversation, "persona")
    assert request.messages == [{"role": "system", "content": "persona"}]


async def test_summary_calls_are_counted_in_usage(store):
    conversations = make(store, history=300)
    summarizer = Summarizer(store, COUNTER, FakeModel(), max_tokens=100)
    await past_the_cap_then_summarise(store, conversations, summarizer)
    totals = await store.usage(guild_id=1, since=dt.datetime.now(dt.UTC).date())
    assert totals.requests == 1 and totals.prompt_tokens > 100 and totals.completion_tokens > 0


async def test_counts_are_redone_once_when_the_tokenizer_changes(store):
    old = Conversations(store, TokenCounter.for_model("gpt-4"), budget=Budget(8000, 500))
    assert await old.recount_if_encoding_changed() == 0  # first start: just remembered
    for n in range(3):
        await say(old, n)
    new_counter = TokenCounter.for_model("gpt-4o")
    new = Conversations(store, new_counter, budget=Budget(8000, 500))
    assert await new.recount_if_encoding_changed() == 6
    for turn in await store.newest_turns(1, limit=10):
        assert turn.tokens == new_counter.message(turn.role, turn.content, turn.author_name)
    assert await new.recount_if_encoding_changed() == 0  # only once


async def test_summary_calls_are_charged_to_the_servers_token_budget(store):
    conversations = make(store, history=300)
    charged: list[tuple[int | None, int, int]] = []

    async def charge(guild: int | None, owner: int, tokens: int) -> None:
        charged.append((guild, owner, tokens))

    summarizer = Summarizer(store, COUNTER, FakeModel(), max_tokens=100, charge=charge)
    await past_the_cap_then_summarise(store, conversations, summarizer)
    ((guild, owner, tokens),) = charged
    assert (guild, owner) == (1, 3) and tokens > 100  # the prompt and the summary
