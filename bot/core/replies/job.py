"""One reply, from its place in the history to its stored outcome:
admit (limiter) → build the request → stream and show → store → settle usage → summarise.

The assistant turn is stored (as streaming) before anything is shown, right after the questions
it answers: later messages get later places, so every request ends with the user messages it
answers and the history keeps the order in which things were said.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from bot.core.choices import Choices
from bot.core.context import ChatRequest
from bot.core.conversations import Conversations
from bot.core.llm import Failure, LLMError, ModelClient, Reply
from bot.core.metrics import NO_METRICS, Metrics, is_first_delta, outcome_of
from bot.core.models import Model, Models
from bot.core.notices import NoticeThrottle
from bot.core.pacing import Pacer
from bot.core.ratelimit import Hold, Limit, Limiter, Spending, Ticket, scope_of
from bot.core.replies.display import Display
from bot.core.replies.outcome import outcome
from bot.core.replies.surface import Button, Failed, Surface
from bot.core.store import Conversation, Turn, TurnStatus
from bot.core.summaries import Summarizer
from bot.core.texts import EN, Texts

log = logging.getLogger(__name__)

SHORT_WAIT = 5.0  # seconds: a rate-limit wait up to this is waited out with the typing indicator
LIMIT_NOTICE_EVERY = 60.0  # seconds: a person refused by a rate limit is told once in this long


@dataclass(frozen=True, slots=True)
class Prompt:
    """A stored user message waiting for (or getting) its answer."""

    message_id: int
    author_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class Deps:
    """What every reply uses: the process's shared services and the reply settings."""

    conversations: Conversations
    choices: Choices
    models: Models
    llm: ModelClient
    limiter: Limiter
    pacer: Pacer
    summarizer: Summarizer | None
    cache_keys: bool  # send prompt_cache_key (OpenAI routes a conversation to one cache)
    logged_once: set[Failure] = field(default_factory=set)  # admins' failures, logged once
    short_wait: float = SHORT_WAIT
    clock: Callable[[], float] = time.monotonic
    metrics: Metrics = NO_METRICS  # Prometheus when METRICS_PORT is set
    # A REST slot held for the post made in it, so that its text is chosen when it may leave.
    post_slot: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext
    spending: Spending | None = None  # USER_/GUILD_DAILY_BUDGET, when either is set
    # Who was told of a rate limit lately, on ``clock``: one notice a minute each, however
    # many replies they ask for in the meantime (the daily budgets' notices are Spending's).
    limit_notices: NoticeThrottle = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_notices", NoticeThrottle(LIMIT_NOTICE_EVERY, self.clock))


class Job:
    """One reply to the ``batch`` of prompts, shown on ``surface``, stored in ``turn``."""

    def __init__(
        self,
        deps: Deps,
        surface: Surface,
        batch: list[Prompt],
        turn: Turn,
        *,
        newer_waiting: Callable[[], bool] = lambda: False,
        texts: Texts = EN,
    ) -> None:
        self.deps = deps
        self.texts = texts  # in the language of the people it answers
        self.surface = surface
        self.batch = batch
        self.turn = turn  # the assistant turn, stored as streaming
        self.newer_waiting = newer_waiting  # messages arrived after the batch
        self.reply = Reply()
        self.request: ChatRequest | None = None
        self.model: Model | None = None  # the model this reply is asked of
        self.persona = ""
        self.display: Display | None = None
        self.finished = asyncio.Event()
        self.stop_note: str | None = None
        self._stopped = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None
        self._thinking_since: float | None = None
        self._asked_at = 0.0  # when the model request went out (for latency metrics)
        self._hold: Hold | None = None  # the money reserved for this reply (daily budgets)

    @property
    def conversation_id(self) -> int:
        return self.turn.conversation_id

    @property
    def askers(self) -> set[int]:
        return {prompt.author_id for prompt in self.batch}

    @property
    def asker(self) -> int:
        """Whose request this is for the limiter and /usage: the newest prompt's author."""
        return self.batch[-1].author_id

    def retract(self, message_id: int) -> None:
        """A prompt was deleted; with none left, there is nothing to answer."""
        self.batch = [prompt for prompt in self.batch if prompt.message_id != message_id]
        if not self.batch:
            self.stop()

    def stop(self, note: str | None = None) -> None:
        """Stop the reply; ``note`` ends it (default: stopped)."""
        note = note or self.texts.stopped
        if self.stop_note is None:
            self.stop_note = note
        self._stopped.set()
        if self._producer is not None:
            self._producer.cancel()

    async def run(self) -> None:
        deadline = self._watch_deadline()
        try:
            await self._run()
        finally:
            if deadline is not None:
                deadline.cancel()
            self.finished.set()

    def _watch_deadline(self) -> asyncio.TimerHandle | None:
        """Where the surface stops taking edits (``Limits.until``), stop the reply in time for
        its end to be shown; one that would start too late asks the model nothing."""
        until = self.surface.limits.until
        if until is None:
            return None
        delay = until - self.deps.clock()
        if delay <= 0:
            log.info("A reply in %s started too late to be shown there", self.conversation_id)
            self.stop(self.texts.out_of_time)
            return None
        return asyncio.get_running_loop().call_later(delay, self.stop, self.texts.out_of_time)

    async def _run(self) -> None:
        conversations = self.deps.conversations
        conversation = await conversations.get(self.conversation_id)
        if conversation is not None and not self._stopped.is_set():
            persona, model = await self.deps.choices.for_conversation(conversation)
            self.persona = persona.value
            self.model = await self._model(model.value)
            self.request = await self._build(conversation)
        if self.request is None or not self.request.ends_with_user:
            await conversations.drop_reply(self.turn)  # deleted, or nothing left to answer
            return
        ticket = await self._admit(conversation)
        if ticket is None or self._stopped.is_set():  # no model request once stopped
            if ticket is not None:
                await self.deps.limiter.settle(ticket, 0)
            await self._settle_spend(0.0)
            await conversations.drop_reply(self.turn)
            return
        self.display = Display(
            self.surface, self.deps.pacer, on_gone=self.stop, on_posted=self._posted,
            reply_to=self._reply_to, max_messages=self.surface.limits.messages,
            on_full=lambda: self.stop(self.texts.cut_at_message_limit),
            post_slot=self.deps.post_slot,
        )  # fmt: skip
        self.display.start()
        self._asked_at = self.deps.clock()
        self._producer = asyncio.create_task(
            self._produce(conversation), name=f"generate-{self.conversation_id}"
        )
        try:
            await asyncio.wait({self._producer})
        finally:
            self._producer.cancel()  # no-op when done; stops it if we are being cancelled
        await self._finish(conversation, ticket)

    async def _model(self, name: str) -> Model:
        """The model :meth:`Models.effective` chose (through ``Choices``): the one rule for
        which model answers, the one ``/model show`` names too."""
        return await self.deps.models.get(name)

    async def _build(self, conversation: Conversation) -> ChatRequest:
        return await self.deps.conversations.build(
            conversation, self.persona, model=self.model, before_seq=self.turn.seq
        )

    async def _admit(self, conversation: Conversation) -> Ticket | None:
        """Reserve the reply's worst cost against the daily budgets, then wait out a short
        rate-limit wait; refuse a spent budget or a long wait with a plain notice."""
        assert self.request is not None and self.model is not None
        tokens = self.request.prompt_tokens + self.model.budget.completion
        if not await self._reserve_spend(conversation):
            return None
        ticket = await self._acquire(conversation, tokens)
        if ticket is None:
            await self._settle_spend(0.0)
        return ticket

    async def _reserve_spend(self, conversation: Conversation) -> bool:
        """Whether the daily budgets leave room for this reply's worst case (the prompt and the
        whole completion allowance, priced); the person is told, once an hour at most, when
        not. A model without a price is refused while a budget is set: its cost is unknown."""
        spending = self.deps.spending
        if spending is None:
            return True
        assert self.request is not None and self.model is not None
        price = self.model.price
        if price is None:
            log.warning("Refused a request in %s: %s has no price in MODEL_PRICES",
                        self.conversation_id, self.model.name)  # fmt: skip
            if spending.may_notify(self.asker):
                await self.surface.tell(self.texts.model_unpriced(self.model.name))
            return False
        worst = price.cost(self.request.prompt_tokens, self.model.budget.completion)
        verdict = await spending.reserve(self.asker, conversation.guild_id, worst)
        if verdict.hold is None:
            log.info("Refused a request in %s: %s daily budget spent",
                     self.conversation_id, verdict.over)  # fmt: skip
            self.deps.metrics.refused(verdict.over)
            if spending.may_notify(self.asker):
                await self.surface.tell(
                    self.texts.over_budget(verdict.over or Limit.USER_BUDGET, verdict.resets_in)
                )
            return False
        self._hold = verdict.hold
        return True

    async def _settle_spend(self, cost: float) -> None:
        hold, self._hold = self._hold, None
        if hold is not None and self.deps.spending is not None:
            await self.deps.spending.settle(hold, cost)

    async def _acquire(self, conversation: Conversation, tokens: int) -> Ticket | None:
        scope = scope_of(conversation.guild_id, self.asker)
        while not self._stopped.is_set():
            decision = await self.deps.limiter.acquire(scope, self.asker, tokens)
            if decision.ticket is not None:
                return decision.ticket
            if decision.wait > self.deps.short_wait:
                log.info("Refused a request in %s: %s limit", self.conversation_id, decision.limit)
                self.deps.metrics.refused(decision.limit)
                if self.deps.limit_notices.should_tell(self.asker):
                    await self.surface.tell(self.texts.rate_limited(decision.limit, decision.wait))
                return None
            async with self.surface.typing():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), decision.wait)
        return None

    async def _produce(self, conversation: Conversation) -> None:
        assert self.display is not None and self.request is not None
        deps = self.deps
        for attempt in range(2):
            assert self.model is not None
            try:
                # Closed here, in this task, when the reply is stopped between two deltas (the
                # stream then waits at a yield): left to the garbage collector, it was closed
                # later in a task of its own, its HTTP response with it, and a failure there goes
                # unseen (as "aclose(): asynchronous generator is already running" was reported).
                async with contextlib.aclosing(
                    deps.llm.stream(
                        self.request.messages,
                        max_tokens=self.model.budget.completion,
                        reply=self.reply,
                        on_retry=self._on_retry,
                        cache_key=self._cache_key(),
                        model=self.model.name,
                    )
                ) as stream:
                    async for delta in stream:
                        if is_first_delta(self.reply, delta):
                            deps.metrics.first_token(deps.clock() - self._asked_at)
                        if delta.text:
                            self.display.feed(delta.text)
                        elif delta.reasoning and not self.reply.text:
                            self._thinking()
                        # Let other tasks run between chunks: a stream's buffered chunks would
                        # otherwise be handled in one turn of the loop, and with many streams one
                        # turn took seconds (bench/streaming.py), delaying Discord requests.
                        await asyncio.sleep(0)
                return
            except LLMError as error:
                if attempt or self.reply.text or not self._learn(error):
                    raise
                self.model = await deps.models.get(self.model.name)  # what was learnt
                self.request = await self._build(conversation)
            finally:
                await deps.limiter.observe(self.reply.headers)

    def _learn(self, error: LLMError) -> bool:
        """Whether the failure taught something that a rebuilt request can get right."""
        conversations = self.deps.conversations
        if error.failure is Failure.CONTEXT_LENGTH:  # the window table was wrong for the model
            assert self.request is not None and self.model is not None
            self.deps.models.shrink(self.model.name, self.request.prompt_tokens)
            return True
        if error.failure is Failure.NO_VISION and self.request is not None:
            assert self.model is not None  # a server that refuses images: answer without them
            self.deps.models.cannot_see(self.model.name)
            return bool(self.request.images)
        return error.failure is Failure.ROLE_ORDER and conversations.learn_alternating_roles()

    def _thinking(self) -> None:
        """Say that the model is thinking, and for how long (the display paces the edits)."""
        assert self.display is not None
        if self._thinking_since is None:
            self._thinking_since = self.deps.clock()
        self.display.placeholder = self.texts.thinking(self.deps.clock() - self._thinking_since)

    async def _posted(self, message_id: int) -> None:
        """Remember where the reply is shown at once, so a restart can mend it after a crash."""
        await self.deps.conversations.attach_reply(self.turn, message_id)

    def _reply_to(self) -> int | None:
        """Point at the message answered when newer ones came in while the model thought."""
        return self.batch[-1].message_id if self.batch and self.newer_waiting() else None

    def _cache_key(self) -> str | None:
        return f"discord-conversation-{self.conversation_id}" if self.deps.cache_keys else None

    async def _on_retry(self, error: LLMError, delay: float) -> None:
        assert self.display is not None
        self.display.placeholder = self.texts.retrying

    def _outcome(self) -> tuple[TurnStatus, str]:
        assert self._producer is not None and self.display is not None
        assert self.request is not None
        return outcome(
            self._producer, self.reply, self.texts, stop_note=self.stop_note,
            overflowing=self.display.overflowing, unseen_images=self.request.unseen_images,
            logged_once=self.deps.logged_once,
        )  # fmt: skip

    async def _finish(self, conversation: Conversation, ticket: Ticket) -> None:
        assert self.display is not None and self.request is not None
        deps, display = self.deps, self.display
        status, note = self._outcome()
        deps.metrics.reply_finished(
            *outcome_of(self._producer), seconds=deps.clock() - self._asked_at
        )
        unseen = display.gone and not display.shown_anything  # not history: nobody saw it
        text = "" if unseen else self.reply.text
        if text and display.max_messages is not None:  # as shown: cut short to fit the surface
            text = display.kept(note)
        try:  # stored before the last edit, which may be paced
            await deps.conversations.finish_reply(
                self.turn, text, status=status, reasoning=self.reply.reasoning
            )
            if text and self.reply.reasoning.strip():  # shown on request, never re-sent
                display.final_button = Button("reasoning", self.turn.seq)
        finally:
            await self._show_end(note)
        if self.request.summarise_through is not None and deps.summarizer is not None:
            deps.summarizer.request(self.conversation_id, self.request.summarise_through)
        assert self.model is not None
        usage = self.reply.spent(self.request.prompt_tokens, self.model.counter.count)
        await deps.limiter.settle(
            ticket, usage.prompt_tokens + usage.completion_tokens if usage else 0
        )
        price = self.model.price
        cost = price.cost(usage.prompt_tokens, usage.completion_tokens) if price and usage else 0.0
        await self._settle_spend(cost)
        if usage is not None:
            deps.metrics.model_tokens(usage.prompt_tokens, usage.completion_tokens)
            await deps.conversations.record_usage(
                guild_id=conversation.guild_id, user_id=self.asker,
                day=dt.datetime.now(dt.UTC).date(), usage=usage, cost=cost,
            )  # fmt: skip
        if display.refused is not None:
            await self.surface.tell(self.texts.cannot_post(display.refused))

    async def _show_end(self, note: str) -> None:
        assert self.display is not None
        try:
            await self.display.finish(note)
        except Failed:
            log.warning("Could not show the end of a reply in %s", self.conversation_id)
            await self.surface.tell(self.texts.discord_failed)
        except Exception:  # e.g. the HTTP session closed under a shutdown that timed out
            log.exception("Could not show the end of a reply in %s", self.conversation_id)
