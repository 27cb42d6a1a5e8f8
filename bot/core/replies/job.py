"""One reply, from its place in the history to its stored outcome:
admit (limiter) → build the request → stream and show → store → settle usage → summarise.

With tools offered, streaming is a loop of rounds: each model call that asks for tools has them
run (shown live, with the asker's consent for those that act), their results go back, and the
next call is admitted like a request of its own (limits and budgets), up to the loop's bounds.

The assistant turn is stored (as streaming) before anything is shown, right after the questions
it answers: later messages get later places, so every request ends with the user messages it
answers and the history keeps the order in which things were said.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from bot.core.audio import DEFAULT_MAX_SECONDS, Heard, first_words
from bot.core.choices import Choices
from bot.core.context import ChatRequest
from bot.core.conversations import Conversations
from bot.core.llm import Failure, LLMError, ModelClient, Reply, ToolCall
from bot.core.metrics import NO_METRICS, Metrics, is_first_delta, outcome_of
from bot.core.models import Model, Models
from bot.core.notices import NoticeThrottle
from bot.core.pacing import Pacer
from bot.core.policy import Kind, Place
from bot.core.ratelimit import Hold, Limit, Limiter, Spending, Ticket, scope_of
from bot.core.replies.activity import Activity, State
from bot.core.replies.display import Display
from bot.core.replies.outcome import outcome
from bot.core.replies.surface import Answer, Button, Failed, Question, Surface
from bot.core.store import Conversation, Turn, TurnStatus
from bot.core.summaries import Summarizer
from bot.core.texts import EN, Texts
from bot.core.tool_loop import (
    RESULT_TOKENS,
    Exchange,
    Ran,
    Rounds,
    Step,
    assistant_message,
    definition_tokens,
    run_round,
    step_of,
    tool_message,
)
from bot.core.tools import BUILTIN_SERVER, Tool, ToolHost

log = logging.getLogger(__name__)

SHORT_WAIT = 5.0  # seconds: a rate-limit wait up to this is waited out with the typing indicator
LIMIT_NOTICE_EVERY = 60.0  # seconds: a person refused by a rate limit is told once in this long
CONSENT_SECONDS = 60.0  # to press Allow before a tool that acts; no answer is a no
LOOP_ROOM = 8_000  # prompt tokens kept free for a reply's own tool rounds (at most an eighth)
LOOP_SHARE = 8  # of the window at most: a small model's history should not pay for rounds unused
MIN_ROUND_ROOM = 256  # with less room left than this, the next round must answer in text
ARGUMENTS_SHOWN = 800  # characters of a call's arguments quoted when asking for consent
FENCE = "`" * 3


@dataclass(frozen=True, slots=True)
class Prompt:
    """A stored user message waiting for (or getting) its answer; ``heard``: its recordings
    (the reply shows the start of what was heard, and says why any was not)."""

    message_id: int
    author_id: int
    seq: int
    heard: tuple[Heard, ...] = ()


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
    tools: ToolHost | None = None  # the tools to offer (bot.core.toolbox.Toolbox), if any
    consent_seconds: float = CONSENT_SECONDS
    audio_max_seconds: float = DEFAULT_MAX_SECONDS  # AUDIO_MAX_SECONDS, for what people are told
    speaks: bool = False  # TTS_MODEL is set: finished replies get a Speak button
    # Conversations told that their model can't use tools: once each.
    told_no_tools: NoticeThrottle = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_notices", NoticeThrottle(LIMIT_NOTICE_EVERY, self.clock))
        object.__setattr__(self, "told_no_tools", NoticeThrottle(math.inf, self.clock))


def place_of(conversation: Conversation) -> Place:
    """Where a conversation's tools are used: its thread (or DM) in its server and channel."""
    kind = Kind.DM if conversation.guild_id is None else Kind.THREAD
    return Place(
        conversation.id, kind, guild_id=conversation.guild_id, parent_id=conversation.parent_id,
        absent=conversation.via_interaction,
    )  # fmt: skip


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
        self.read_out = False  # /voice: the reply is read out once finished
        self.display: Display | None = None
        self.finished = asyncio.Event()
        self.stop_note: str | None = None
        self._stopped = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None
        self._thinking_since: float | None = None
        self._asked_at = 0.0  # when the model request went out (for latency metrics)
        self._hold: Hold | None = None  # the money reserved for this reply (daily budgets)
        self._ticket: Ticket | None = None  # the limiter's, for the model call under way
        self._round = Reply()  # what the model call under way produced
        self._round_prompt = 0  # its prompt tokens
        self._place: Place | None = None  # where the conversation is, for its tools
        self.tools: tuple[Tool, ...] = ()  # offered to the model here
        self.exchange = Exchange()  # the tool calls made so far, with their results
        self.without_tools = False  # say that this model can't use the tools offered here
        self.activity = Activity(texts)
        self._asking = asyncio.Lock()  # one consent prompt at a time

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
            persona, model, voice = await self.deps.choices.for_reply(conversation)
            self.read_out = voice and self.deps.speaks
            self.persona = persona.value
            self.model = await self._model(model.value)
            self._place = place_of(conversation)
            await self._offer()
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
        self._ticket = ticket
        self.display = Display(
            self.surface, self.deps.pacer, on_gone=self.stop, on_posted=self._posted,
            reply_to=self._reply_to, max_messages=self.surface.limits.messages,
            on_full=lambda: self.stop(self.texts.cut_at_message_limit),
            post_slot=self.deps.post_slot,
        )  # fmt: skip
        self.display.heading = self._heard()
        self.display.start()
        self._asked_at = self.deps.clock()
        self._producer = asyncio.create_task(
            self._produce(conversation), name=f"generate-{self.conversation_id}"
        )
        try:
            await asyncio.wait({self._producer})
        finally:
            self._producer.cancel()  # no-op when done; stops it if we are being cancelled
        await self._finish(conversation)

    async def _model(self, name: str) -> Model:
        """The model :meth:`Models.effective` chose (through ``Choices``): the one rule for
        which model answers, the one ``/model show`` names too."""
        return await self.deps.models.get(name)

    async def _offer(self) -> None:
        """The tools to offer here: none where there are none, or for a model whose server
        refused them (said once per conversation). A tool list that can't be read (the
        switches' store down) means none this time, not a failed reply."""
        self.tools = ()
        if self.deps.tools is None or self.model is None or self._place is None:
            return
        try:
            available = await self.deps.tools.tools(self._place)
        except Exception:
            log.exception("Could not list the tools for %s; answering without", self._place)
            return
        if available and not self.model.tools:
            # Said where the operator set up tools; the built-in one alone, on by default,
            # would make every conversation on a model without tools say it.
            if any(tool.server != BUILTIN_SERVER for tool in available):
                self.without_tools = self.deps.told_no_tools.should_tell(self.conversation_id)
            return
        self.tools = available

    async def _build(self, conversation: Conversation) -> ChatRequest:
        """The request, leaving room for the tools offered: their definitions, and the calls
        and results of this reply's rounds (:data:`LOOP_ROOM`, at most 1/:data:`LOOP_SHARE` of
        the window; a round that finds too little room left must answer in text)."""
        assert self.model is not None
        defined = definition_tokens(self.tools, self.model.counter)
        room = min(LOOP_ROOM, self.model.budget.window // LOOP_SHARE)
        reserve = defined + room if self.tools else 0
        request = await self.deps.conversations.build(
            conversation, self.persona, model=self.model, before_seq=self.turn.seq,
            reserve=reserve,
        )  # fmt: skip
        request.prompt_tokens += defined
        return request

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
                await self._converse(conversation)
                return
            except LLMError as error:
                if attempt or self.reply.text or self.exchange or not self._learn(error):
                    raise
                self.model = await deps.models.get(self.model.name)  # what was learnt
                await self._offer()
                self.request = await self._build(conversation)

    async def _converse(self, conversation: Conversation) -> None:
        """Model calls until one answers without asking for tools: each that asks has its
        calls run and their results added, and the next is admitted like a new request. Past
        the loop's bounds (rounds, time, the window's room) the last call must answer."""
        rounds = Rounds(self.deps.clock)
        while True:
            last = not (self.tools and self._has_room() and rounds.begin())
            await self._stream(self.tools, last=last)
            calls = self._round.tool_calls
            if not calls or last:
                return
            self.exchange = self.exchange.then(await self._use_tools(calls))
            if not await self._next_round(conversation):
                return

    async def _stream(self, tools: Sequence[Tool], *, last: bool) -> None:
        """One model call, its text shown as it comes (after a blank line, past a round that
        called tools); ``last``: tools are offered for what came before, not to be called."""
        assert self.display is not None and self.request is not None and self.model is not None
        deps = self.deps
        part = self._round = Reply()
        self._round_prompt = self.request.prompt_tokens
        first = not self.exchange
        apart = bool(self.reply.text)  # text of an earlier round: this one's goes below it
        offered = [tool.as_openai() for tool in tools] or None
        try:
            # Closed here, in this task, when the reply is stopped between two deltas (the
            # stream then waits at a yield): left to the garbage collector, it was closed
            # later in a task of its own, its HTTP response with it, and a failure there goes
            # unseen (as "aclose(): asynchronous generator is already running" was reported).
            async with contextlib.aclosing(
                deps.llm.stream(
                    self.request.messages,
                    max_tokens=self.model.budget.completion,
                    reply=part,
                    on_retry=self._on_retry,
                    cache_key=self._cache_key(),
                    model=self.model.name,
                    tools=offered,
                    tool_choice="none" if offered and last else None,
                )
            ) as stream:
                async for delta in stream:
                    if first and is_first_delta(part, delta):
                        deps.metrics.first_token(deps.clock() - self._asked_at)
                    if delta.text and apart:
                        apart = False
                        self.reply.text += "\n\n"
                        self.display.feed("\n\n")
                    self.reply.add(delta)
                    if delta.text:
                        self.display.feed(delta.text)
                    elif delta.reasoning and not self.reply.text:
                        self._thinking()
                    # Let other tasks run between chunks: a stream's buffered chunks would
                    # otherwise be handled in one turn of the loop, and with many streams one
                    # turn took seconds (bench/streaming.py), delaying Discord requests.
                    await asyncio.sleep(0)
        finally:
            self.reply.finish_reason = part.finish_reason
            self.reply.headers = part.headers
            self.reply.tool_calls = [*self.reply.tool_calls, *part.tool_calls]
            await deps.limiter.observe(part.headers)

    def _has_room(self) -> bool:
        assert self.request is not None and self.model is not None
        return self.model.budget.prompt - self.request.prompt_tokens >= MIN_ROUND_ROOM

    async def _use_tools(self, calls: list[ToolCall]) -> list[Step]:
        """Run a round's calls, each shown as a line that says how it went; the results go
        into the request, each cut to its share of the room left."""
        assert self.request is not None and self.model is not None
        assert self.deps.tools is not None and self._place is not None
        offered = {tool.function: tool for tool in self.tools}
        lines = [
            self.activity.start(offered[c.name].name if c.name in offered else c.name, c.arguments)
            for c in calls
        ]
        self._show_activity()

        def done(index: int, ran: Ran) -> None:
            state = State.DONE
            if ran.refused:
                state = State.REFUSED
            elif ran.result.error:  # unreadable arguments too: the model's call failed
                state = State.FAILED
            self.activity.set(lines[index], state, ran.seconds)
            self._show_activity()
            tool = offered.get(calls[index].name)
            self.deps.metrics.tool_call(tool.server if tool else "", state, ran.seconds)

        async def consent(index: int, tool: Tool, arguments: Mapping[str, Any]) -> bool:
            return await self._consent(lines[index], tool, arguments)

        ran = await run_round(
            self.deps.tools, calls, self.tools, place=self._place, clock=self.deps.clock,
            asker_id=self.asker, consent=consent, on_done=done,
        )  # fmt: skip
        counter = self.model.counter
        asking = assistant_message(self._round.text, calls)
        room = self.model.budget.prompt - self.request.prompt_tokens - MIN_ROUND_ROOM
        room -= counter.chat_message(asking)
        share = max(0, min(RESULT_TOKENS, room // max(1, len(ran)) - 30))  # 30: label, framing
        steps = [step_of(one, counter, share) for one in ran]
        added = [asking, *(tool_message(step) for step in steps)]
        self.request.messages.extend(added)
        self.request.prompt_tokens += sum(counter.chat_message(m) for m in added)
        return steps

    def _show_activity(self) -> None:
        if self.display is not None:
            self.display.activity = self.activity.render()

    async def _consent(self, line: int, tool: Tool, arguments: Mapping[str, Any]) -> bool:
        """Ask the person who asked, before a tool that acts runs: only Allow runs it."""
        texts = self.texts
        shown = json.dumps(arguments, ensure_ascii=False, indent=1)
        if len(shown) > ARGUMENTS_SHOWN:
            shown = shown[: ARGUMENTS_SHOWN - 1] + "…"
        quoted = f"{FENCE}json\n" + shown.replace(FENCE, "'" * 3) + f"\n{FENCE}"
        question = Question(
            user_id=self.asker,
            text=texts.consent_question(self.asker, tool.name, tool.server, quoted),
            allow=texts.allow_button, deny=texts.deny_button, others=texts.consent_only_asker,
            answered={answer: texts.consent_answered(tool.name, answer) for answer in Answer},
            seconds=self.deps.consent_seconds,
        )  # fmt: skip
        async with self._asking:
            self.activity.set(line, State.ASKING)
            self._show_activity()
            answer = await self.surface.ask(question)
            self.activity.set(line, State.RUNNING)
            self._show_activity()
        log.info("Consent for %s in %s: %s", tool.function, self.conversation_id, answer)
        return answer is Answer.ALLOWED

    async def _next_round(self, conversation: Conversation) -> bool:
        """Pay for the round that asked for tools, and admit the next like a request of its
        own; False when a limit or budget says no (the reply then ends, and says why)."""
        await self._charge(conversation)
        ticket = await self._admit(conversation) if not self._stopped.is_set() else None
        if ticket is None:
            self.stop(self.texts.tools_limited)
            return False
        self._ticket = ticket
        return True

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
        if error.failure is Failure.NO_TOOLS and self.model is not None:
            self.deps.models.cannot_use_tools(self.model.name)  # answer without them
            return bool(self.tools)
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

    def _heard(self) -> str:
        """The line a reply to recordings starts with: the start of what was heard."""
        transcripts = [h.transcript for p in self.batch for h in p.heard if h.transcript]
        return self.texts.heard(first_words(transcripts)) if transcripts else ""

    def _note(self, note: str) -> str:
        """The outcome's note, under the line of the tools used, the word that this model could
        not use the tools here, and why a recording was not heard, when any applies."""
        lines = []
        refused = dict.fromkeys(h.refused for p in self.batch for h in p.heard if h.refused)
        for reason in refused:
            assert reason is not None
            lines.append(self.texts.audio_refused(reason, self.deps.audio_max_seconds))
        if self.exchange:
            lines.append(self.texts.tools_footer(self.exchange.used()))
        if self.without_tools and note != self.texts.failure(Failure.NO_TOOLS):
            lines.append(self.texts.failure(Failure.NO_TOOLS))
        return "\n".join([*lines, note] if note else lines)

    async def _finish(self, conversation: Conversation) -> None:
        assert self.display is not None and self.request is not None
        deps, display = self.deps, self.display
        status, note = self._outcome()
        note = self._note(note)
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
            if text and self.exchange:
                await deps.conversations.set_tool_calls(self.turn, self.exchange)
            if text:
                display.final_button = self._final_button()
        finally:
            await self._show_end(note)
        if self.request.summarise_through is not None and deps.summarizer is not None:
            deps.summarizer.request(self.conversation_id, self.request.summarise_through)
        await self._charge(conversation)
        if display.refused is not None:
            await self.surface.tell(self.texts.cannot_post(display.refused))
        elif self.read_out and status is TurnStatus.COMPLETE and text.strip():
            first = display.messages[0] if display.messages else None
            await self.surface.speak(text, first, self.asker)  # in order: before the next reply

    def _final_button(self) -> Button | None:
        """Reasoning (shown on request, never re-sent) and the tools' details, privately, and
        Speak, where the bot can speak and the reply has text to read out."""
        reasoning = bool(self.reply.reasoning.strip())
        tools = bool(self.exchange)
        speak = self.deps.speaks and bool(self.reply.text.strip())
        if not (reasoning or tools or speak):
            return None
        return Button("finished", self.turn.seq, reasoning=reasoning, tools=tools, speak=speak)

    async def _charge(self, conversation: Conversation) -> None:
        """Settle the model call just made: the limiter's tokens, the money spent against the
        budgets, and the usage figures."""
        deps = self.deps
        assert self.model is not None
        usage = self._round.spent(self._round_prompt, self.model.counter.count)
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            tokens = usage.prompt_tokens + usage.completion_tokens if usage else 0
            await deps.limiter.settle(ticket, tokens)
        price = self.model.price
        cost = price.cost(usage.prompt_tokens, usage.completion_tokens) if price and usage else 0.0
        await self._settle_spend(cost)
        if usage is not None:
            deps.metrics.model_tokens(usage.prompt_tokens, usage.completion_tokens)
            await deps.conversations.record_usage(
                guild_id=conversation.guild_id, user_id=self.asker,
                day=dt.datetime.now(dt.UTC).date(), usage=usage, cost=cost,
            )  # fmt: skip

    async def _show_end(self, note: str) -> None:
        assert self.display is not None
        try:
            await self.display.finish(note)
        except Failed:
            log.warning("Could not show the end of a reply in %s", self.conversation_id)
            await self.surface.tell(self.texts.discord_failed)
        except Exception:  # e.g. the HTTP session closed under a shutdown that timed out
            log.exception("Could not show the end of a reply in %s", self.conversation_id)
