"""Rolling summaries: turns that leave the re-sent history are folded into one summary.

A summary is made in the background after a reply, never before one. If the model call fails,
the turns leave the history anyway (the plain window) and are summarised at a later reply.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from bot.core.bounded import LRU
from bot.core.llm import Reply
from bot.core.models import Price
from bot.core.store import Store, Turn
from bot.core.tokens import TokenCounter

log = logging.getLogger(__name__)

MAX_INPUT_TOKENS = 24_000  # the most transcript one summary call reads (the newest part)
RETRY_AFTER = 120.0  # seconds before a conversation whose summary failed is tried again
FAILURES_KEPT = 10_000  # conversations whose last summary failed, remembered at once

Complete = Callable[[list[dict[str, str]], int], Awaitable[Reply]]
Charge = Callable[[int | None, int, int], Awaitable[None]]  # (guild id, owner id, tokens)
# The daily spending budgets' charge: (owner id, guild id, US dollars); see bot.core.ratelimit.spending.
Spend = Callable[[int, int | None, float], Awaitable[None]]
SUMMARY_USER_ID = 0  # usage of summary calls is recorded under this user id

INSTRUCTIONS = (
    "You keep a running summary of a Discord conversation between users and an assistant. "
    "Update the summary with the new messages. Keep names, facts, decisions, open questions "
    "and what each user wants; drop greetings and small talk. Write in the conversation's "
    "language, at most about {words} words. Reply with the summary only."
)


def summary_prompt(previous: str | None, turns: list[Turn], words: int) -> list[dict[str, str]]:
    transcript = "\n\n".join(
        f"{(turn.author_name or 'user') if turn.role == 'user' else 'assistant'}: {turn.content}"
        for turn in turns
    )
    return [
        {"role": "system", "content": INSTRUCTIONS.format(words=words)},
        {
            "role": "user",
            "content": f"Summary so far:\n{previous or '(none yet)'}\n\nNew messages:\n{transcript}",
        },
    ]


class Summarizer:
    """One background job per conversation at a time; each decision is the store's."""

    def __init__(
        self,
        store: Store,
        counter: TokenCounter,
        complete: Complete | None,
        *,
        max_tokens: int,
        charge: Charge | None = None,
        price: Price | None = None,
        spend: Spend | None = None,
    ) -> None:
        self.store = store
        self.charge = charge  # summaries spend the server's token budget like replies
        self.price = price  # the summary model's (MODEL_PRICES), for the cost kept in usage
        self.spend = spend  # and the server's daily budget (the person's, outside servers)
        self.counter = counter
        self.complete = complete  # None: summaries are off, evicted turns are just dropped
        self.max_tokens = max_tokens
        self.calls = 0
        self.closing = False  # shutting down: no new summary calls
        self._running: dict[int, asyncio.Task[None]] = {}  # one per summary being made
        # conversation -> when its summary last failed; one forgotten is merely retried sooner
        self._failed_at: LRU[int, float] = LRU(FAILURES_KEPT)

    def request(self, conversation_id: int, through_seq: int) -> None:
        """Fold the turns up to ``through_seq`` into the summary, in the background."""
        if self.closing or conversation_id in self._running:
            return
        failed_at = self._failed_at.get(conversation_id)
        if failed_at is not None and time.monotonic() - failed_at < RETRY_AFTER:
            return  # the plain window serves meanwhile; don't call a failing model every reply
        task = asyncio.create_task(
            self._run(conversation_id, through_seq), name=f"summary-{conversation_id}"
        )
        self._running[conversation_id] = task
        task.add_done_callback(lambda done: self._done(conversation_id, done))

    def _done(self, conversation_id: int, task: asyncio.Task[None]) -> None:
        self._running.pop(conversation_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("A summary job failed", exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Wait for the running jobs (shutdown, tests)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await self.wait_idle()

    async def _run(self, conversation_id: int, through: int) -> None:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None or conversation.summary_through >= through:
            return
        if self.complete is None:  # summaries off: the turns are simply no longer sent
            await self.store.save_summary(conversation_id, conversation.summary, through)
            return
        turns = self._newest_within(
            await self.store.turns_between(conversation_id, conversation.summary_through, through)
        )
        prompt = summary_prompt(conversation.summary, turns, words=int(self.max_tokens * 0.7))
        try:
            self.calls += 1
            reply = await self.complete(prompt, self.max_tokens)
            await self._record_usage(conversation.guild_id, conversation.owner_id, prompt, reply)
            summary = reply.text.strip()
            if not summary:
                raise ValueError("the model returned an empty summary")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the plain window keeps working; retried at a later reply
            log.warning(
                "Could not summarise conversation %s (%s); will retry", conversation_id, exc
            )
            self._failed_at[conversation_id] = time.monotonic()
            await self.store.evict(conversation_id, through)
            return
        self._failed_at.pop(conversation_id, None)
        if await self.store.save_summary(conversation_id, summary, through):
            log.info("Summarised conversation %s through turn %s", conversation_id, through)

    async def _record_usage(
        self, guild_id: int | None, owner_id: int, prompt: list[dict[str, str]], reply: Reply
    ) -> None:
        """Summaries cost tokens too: charged to the server's budget, shown in /usage."""
        usage = reply.spent(self.counter.prompt(prompt), self.counter.count)
        if usage is not None and self.charge is not None:
            await self.charge(guild_id, owner_id, usage.prompt_tokens + usage.completion_tokens)
        if usage is not None:
            cost = (
                self.price.cost(usage.prompt_tokens, usage.completion_tokens) if self.price else 0
            )
            if self.spend is not None:
                await self.spend(owner_id, guild_id, cost)
            await self.store.add_usage(
                guild_id=guild_id, user_id=SUMMARY_USER_ID, day=dt.datetime.now(dt.UTC).date(),
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens, cost=cost,
            )  # fmt: skip

    def _newest_within(self, turns: list[Turn]) -> list[Turn]:
        total, start = 0, len(turns)
        while start > 0 and total + turns[start - 1].tokens <= MAX_INPUT_TOKENS:
            start -= 1
            total += turns[start].tokens
        return turns[start:] or turns[-1:]
