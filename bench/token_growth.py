"""Benchmark: what a long thread costs, three ways.

A 200-exchange conversation (user messages of 20–150 tokens, replies of 100–500) goes through
the real builder and store. Compared:
  * naive: re-send the whole history every time (within gpt-4o-mini's 128k window);
  * evict one: keep the newest turns within HISTORY_TOKENS, dropping the oldest one by one;
  * threadbot: HISTORY_TOKENS with block eviction and a rolling summary (the summary "model" is
    a stand-in returning SUMMARY_TOKENS of text at once; its calls are counted and charged).
Reported: total prompt tokens (summary calls included), the share of requests whose first
1,024 tokens equal the previous request's (counted once the history passes the cap), and the
number of summary calls, and the most history (turn tokens) one request sent.

    python bench/token_growth.py
"""

from __future__ import annotations

import asyncio
import random
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.catalog import context_window
from bot.core.context import Budget, build_request
from bot.core.conversations import Conversations
from bot.core.llm import Reply
from bot.core.store import Turn, TurnStatus
from bot.core.summaries import Summarizer
from bot.core.tokens import TokenCounter
from bot.services.store import SQLiteStore

MODEL = "gpt-4o-mini"
EXCHANGES = 200
HISTORY_TOKENS = 12_000
SUMMARY_TOKENS = 400
PREFIX = 1024
PERSONA = "You are a helpful assistant chatting in a Discord thread. Answer clearly."
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "or",
    "have",
    "an",
    "they",
    "which",
]

counter = TokenCounter.for_model(MODEL)


def text(rng: random.Random, tokens: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(tokens))  # ~1 token a word


def rendered(messages: list[dict[str, str]]) -> list[int]:
    """The prompt as one token sequence, close to what the API caches."""
    joined = "".join(f"<|{m['role']}|>{m.get('name', '')}\n{m['content']}\n" for m in messages)
    return counter.encoding.encode(joined, disallowed_special=())


class Stats:
    def __init__(self, name: str) -> None:
        self.name = name
        self.prompt_tokens = 0
        self.stable = self.compared = 0
        self.summary_calls = 0
        self.most_history = 0  # the most turn tokens one request sent
        self._previous: list[int] | None = None

    def request(self, messages: list[dict[str, str]], past_cap: bool) -> None:
        self.prompt_tokens += counter.prompt(messages)
        history = [m for m in messages if m["role"] != "system"]
        self.most_history = max(self.most_history, counter.prompt(history) - 3)  # no priming
        tokens = rendered(messages)
        if past_cap and self._previous is not None and len(tokens) >= PREFIX:
            self.compared += 1
            self.stable += tokens[:PREFIX] == self._previous[:PREFIX]
        self._previous = tokens


async def main() -> None:
    rng = random.Random(7)
    exchanges = [
        (text(rng, rng.randint(20, 150)), text(rng, rng.randint(100, 500)))
        for _ in range(EXCHANGES)
    ]
    budget = Budget(context_window(MODEL), 1024)
    naive, one, ours = Stats("naive re-send"), Stats("evict one turn at a time"), Stats("threadbot")

    store = SQLiteStore(":memory:")
    await store.open()
    await store.create_conversation(1, guild_id=1, parent_id=1, owner_id=1)
    summary_usage = 0

    async def complete(messages: list[dict[str, str]], max_tokens: int) -> Reply:
        nonlocal summary_usage
        summary_usage += counter.prompt(messages) + max_tokens
        return Reply(text=text(rng, max_tokens))

    summarizer = Summarizer(store, counter, complete, max_tokens=SUMMARY_TOKENS)
    conversations = Conversations(store, counter, budget=budget, history_tokens=HISTORY_TOKENS)
    capped = Budget(HISTORY_TOKENS + 1024 + counter.message("system", PERSONA) + 3, 1024)
    history: list[Turn] = []  # every turn, oldest first, for the two other strategies
    for n, (question, answer) in enumerate(exchanges):
        user = await conversations.add_user_turn(
            1, message_id=n + 1, content=question, author="alice"
        )
        assert user is not None
        history.append(user)
        newest_first = list(reversed(history))
        past_cap = sum(t.tokens for t in history) > HISTORY_TOKENS

        naive.request(build_request(counter, budget, PERSONA, newest_first).messages, past_cap)
        one.request(build_request(counter, capped, PERSONA, newest_first).messages, past_cap)
        request = await conversations.build(await store.get_conversation(1), PERSONA)
        ours.request(request.messages, past_cap)

        reply = await conversations.begin_reply(1)
        await conversations.finish_reply(reply, answer, status=TurnStatus.COMPLETE)
        history.append(replace(reply, content=answer, tokens=counter.message("assistant", answer)))
        if request.summarise_through is not None:  # after the reply, as the bot does
            summarizer.request(1, request.summarise_through)
            await summarizer.wait_idle()
    ours.summary_calls = summarizer.calls
    ours.prompt_tokens += summary_usage
    await store.close()

    print(f"{EXCHANGES} exchanges, {sum(t.tokens for t in history):,} tokens of history by the end; "
          f"HISTORY_TOKENS={HISTORY_TOKENS:,}, SUMMARY_TOKENS={SUMMARY_TOKENS}\n")  # fmt: skip
    print(
        f"{'strategy':<26} | {'prompt tokens':>13} | {'vs naive':>8} | {'prefix stable':>13} | {'summary calls':>13} | {'most history':>12}"
    )
    print("-" * 101)
    for stats in (naive, one, ours):
        stable = f"{stats.stable / stats.compared:.0%}" if stats.compared else "-"
        print(f"{stats.name:<26} | {stats.prompt_tokens:>13,} | {stats.prompt_tokens / naive.prompt_tokens:>8.0%} | "
              f"{stable:>13} | {stats.summary_calls:>13} | {stats.most_history:>12,}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
