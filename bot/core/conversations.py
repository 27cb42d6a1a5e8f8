"""Conversations as the core sees them: stored turns in, budgeted chat requests out.

Discord-free: callers pass ids, text and names. The order of turns and replies is
:mod:`bot.core.replies`'s to keep; this module stores and reads them.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.core import images, tool_loop
from bot.core.context import Budget, ChatRequest, ContextPacker, alternate, api_name, fit_exactly
from bot.core.conversation_index import ConversationIndex
from bot.core.llm import Usage
from bot.core.models import Model
from bot.core.policy import Kind, Place, may_adopt_thread
from bot.core.store import Conversation, Image, Store, Turn, TurnStatus, UsageTotals
from bot.core.tokens import TokenCounter
from bot.core.tool_loop import Exchange

log = logging.getLogger(__name__)

# Past this share of HISTORY_TOKENS, a block of the oldest turns is folded into the summary in
# the background, so that the summary is usually there before the history reaches the cap
# (which is never passed: without a summary yet, the plain window applies).
SUMMARISE_FROM = 0.75
# Evict down to this share of HISTORY_TOKENS. Bigger blocks mean fewer prefix changes (OpenAI
# caches byte-identical prefixes) and fewer summary calls; bench/token_growth.py, summarising
# from 0.75, measured 0.3 against 0.5: 18% vs 20% of naive prompt tokens, 94% vs 88% stable
# prefixes, 12 vs 21 summary calls (from 1.0 down to 0.5, before the cap was one: 24%, 94%, 11).
EVICT_TO = 0.3
ENCODING_KEY = "token_encoding"  # the tokenizer the stored counts were made with
RECOUNT_PAGE = 500


@dataclass(frozen=True, slots=True)
class Start:
    """Where a conversation starts (or goes on), under which id, and whose it is."""

    conversation_id: int
    guild_id: int | None
    parent_id: int | None
    owner_id: int
    via_interaction: bool = False  # a place only /chat reaches: its messages are never answered
    new_thread: bool = False  # a thread is still to open on the message (it takes its id)


def where_to_start(
    place: Place, asker_id: int, *, message_id: int | None = None, manage_threads: bool = False
) -> Start | None:
    """The conversation ``asker_id`` starts or continues here (a mention's author, /chat's
    caller, or a command's user: with no ``message_id``, only a place's own conversation).

    - Where the bot is absent (reached only through /chat): the place's, by its channel id,
      belonging to no server (the person's own limits and usage apply), kept apart from the
      channel's messages (never listened to, even once the bot joins).
    - The bot's DM: the DM's.
    - A thread: the thread's, when the asker may make it a conversation
      (:func:`~bot.core.policy.may_adopt_thread`); else the message's, answered on its own
      without taking the thread over.
    - A text channel: a new thread on the message, by the message's id (the conversation
      exists at once; the thread opens while the model is asked).
    - None: no conversation starts here (another kind of server channel).
    """
    if place.absent:
        return Start(place.channel_id, None, None, asker_id, via_interaction=True)
    if place.guild_id is None:
        return Start(place.channel_id, None, None, asker_id)
    if place.kind is Kind.THREAD:
        if may_adopt_thread(asker_id, place.thread_owner_id, manage_threads=manage_threads):
            return Start(place.channel_id, place.guild_id, place.parent_id, asker_id)
        if message_id is not None:
            return Start(message_id, place.guild_id, place.channel_id, asker_id)
    elif place.kind is Kind.TEXT and message_id is not None:
        return Start(message_id, place.guild_id, place.channel_id, asker_id, new_thread=True)
    return None


class Conversations:
    def __init__(
        self,
        store: Store,
        counter: TokenCounter,
        *,
        budget: Budget,
        history_tokens: int | None = None,
        alternate_roles: bool | None = None,
    ) -> None:
        self.store = store
        self.counter = counter
        self.budget = budget
        self.history_tokens = history_tokens  # the most history sent per request (a cap)
        self.index = ConversationIndex()
        self.worker: str | None = None  # this process, on the replies it is writing
        # Merge same-role turns for servers whose templates want strict alternation: True,
        # False (never), or None (not yet; turned on when a server refuses a request for it).
        self.alternate_roles = alternate_roles

    async def load_index(self) -> None:
        ids = await self.store.conversation_ids(self.index.capacity + 1)
        self.index.load(ids[: self.index.capacity], complete=len(ids) <= self.index.capacity)

    def known(self, channel_id: int) -> bool | None:
        """Is this channel a conversation that messages reach? None when only the store can
        tell (rare). A place reached only through /chat is not (see ``via_interaction``)."""
        return self.index.lookup(channel_id)

    async def is_conversation(self, channel_id: int) -> bool:
        known = self.index.lookup(channel_id)
        if known is None:
            conversation = await self.store.get_conversation(channel_id)
            known = conversation is not None and not conversation.via_interaction
            self.index.remember(channel_id, known)
        return known

    async def get(self, conversation_id: int) -> Conversation | None:
        return await self.store.get_conversation(conversation_id)

    async def has_one(self, place: Place) -> bool:
        """Whether a conversation of the place's own is here (for /chat to go on with): one
        that messages reach, or where the bot is absent, the one /chat keeps there."""
        if place.absent:
            return await self.get(place.channel_id) is not None
        return await self.is_conversation(place.channel_id)

    async def start(self, start: Start) -> Conversation:
        """Start the conversation :func:`where_to_start` found, or find it started (a message
        delivered twice, another process first): the one place conversations begin."""
        conversation = await self.store.create_conversation(
            start.conversation_id, guild_id=start.guild_id, parent_id=start.parent_id,
            owner_id=start.owner_id, via_interaction=start.via_interaction,
        )  # fmt: skip
        self.index.remember(start.conversation_id, not conversation.via_interaction)
        return conversation

    async def reset(self, conversation_id: int) -> None:
        """Delete the history so far (turns, images, reasoning, summary), from the files too."""
        if await self.store.reset_conversation(conversation_id):
            await self.store.purge()

    async def usage(
        self, *, guild_id: int | None, since: dt.date, user_id: int | None = None
    ) -> UsageTotals:
        return await self.store.usage(guild_id=guild_id, since=since, user_id=user_id)

    async def record_usage(
        self, *, guild_id: int | None, user_id: int, day: dt.date, usage: Usage, cost: float = 0.0
    ) -> None:
        await self.store.add_usage(
            guild_id=guild_id, user_id=user_id, day=day, prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens, cached_tokens=usage.cached_tokens,
            cost=cost,
        )  # fmt: skip

    def _user_tokens(self, content: str, author: str | None) -> int:
        return self.counter.message("user", content, author)

    async def add_user_turn(
        self,
        conversation_id: int,
        *,
        message_id: int,
        content: str,
        author: str | None,
        author_id: int | None = None,
    ) -> Turn | None:
        """Store a user's message; ``None`` if it was stored already (redelivered event)."""
        name = api_name(author) if author else None
        return await self.store.add_turn(
            conversation_id, role="user", content=content,
            tokens=self._user_tokens(content, name), message_id=message_id, author_name=name,
            author_id=author_id,
        )  # fmt: skip

    async def edit_user_turn(self, message_id: int, content: str, author: str | None) -> bool:
        name = api_name(author) if author else None
        return await self.store.edit_message(message_id, content, self._user_tokens(content, name))

    async def user_turn(self, message_id: int) -> Turn | None:
        """The stored turn of a user's message (None: not one the bot keeps)."""
        return await self.store.user_turn(message_id)

    async def forget_message(self, message_id: int) -> bool:
        return await self.store.delete_message(message_id)

    async def begin_reply(self, conversation_id: int, text: str = "") -> Turn:
        """Store the assistant turn as streaming before anything of it is shown: it takes its
        place in the history now, and a restart finds it to mend what was shown."""
        turn = await self.store.add_turn(
            conversation_id, role="assistant", content=text,
            tokens=self.counter.message("assistant", text), status=TurnStatus.STREAMING,
            worker=self.worker,
        )  # fmt: skip
        assert turn is not None  # no message id, so never a duplicate
        return turn

    async def stored_reply(self, seq: int) -> Turn | None:
        """A reply with its text, to read out (None: deleted, or not a reply)."""
        found = await self.store.turns_after(seq - 1, 1)
        turn = found[0] if found else None
        if turn is None or turn.seq != seq or turn.role != "assistant" or not turn.content:
            return None
        return turn

    async def reasoning(self, seq: int) -> str | None:
        """A reply's reasoning, for the person who asks to see it."""
        return await self.store.get_reasoning(seq)

    async def attach_reply(self, turn: Turn, message_id: int) -> None:
        await self.store.attach_message(turn.seq, message_id)

    async def drop_reply(self, turn: Turn) -> None:
        """A reply that said nothing leaves no turn (its questions stay unanswered)."""
        await self.store.delete_turn(turn.seq)

    async def finish_reply(
        self,
        turn: Turn,
        text: str,
        *,
        status: TurnStatus,
        message_id: int | None = None,
        reasoning: str = "",
    ) -> None:
        """Store what the reply said (nothing: drop it); its reasoning apart, if any."""
        if not text:
            await self.drop_reply(turn)
            return
        if reasoning.strip():
            await self.store.set_reasoning(turn.seq, reasoning)
        await self.store.update_turn(
            turn.seq,
            content=text,
            tokens=self.counter.message("assistant", text),
            status=status,
            message_id=message_id,
        )

    async def mend_reply(self, turn: Turn, shown: str) -> None:
        """After a crash: keep what was shown of an interrupted reply (nothing: drop it)."""
        await self.finish_reply(turn, shown, status=TurnStatus.INTERRUPTED)

    async def recount_if_encoding_changed(self) -> int:
        """Cached counts are exact for one tokenizer. After a model change that changes it
        (cl100k_base ↔ o200k_base), count every stored turn again, once; returns how many."""
        current = self.counter.encoding.name
        previous = await self.store.get_meta(ENCODING_KEY)
        recounted = 0
        if previous is not None and previous != current:
            after = 0
            while page := await self.store.turns_after(after, RECOUNT_PAGE):
                await self.store.set_token_counts(
                    [(t.seq, self.counter.message(t.role, t.content, t.author_name)) for t in page]
                )
                recounted += len(page)
                after = page[-1].seq
            log.info("Recounted %d stored turns for %s (was %s)", recounted, current, previous)
        if previous != current:
            await self.store.set_meta(ENCODING_KEY, current)
        return recounted

    async def build(
        self,
        conversation: Conversation,
        persona: str,
        *,
        model: Model | None = None,
        before_seq: int | None = None,
        reserve: int = 0,
    ) -> ChatRequest:
        """The request for the conversation's next reply, reading only the turns that fit.

        The turns sent never pass ``history_tokens`` (but for a newest turn longer than it,
        sent alone). Past ``SUMMARISE_FROM`` of it, history is evicted in blocks, not one turn
        per request: the request says which turns to fold into the summary
        (``summarise_through``), and they keep being sent until that summary exists, so the
        prompt prefix changes once a block; should the cap come first, the oldest turns beyond
        it are simply left out (the plain window) until the summary is there.

        ``reserve`` tokens of the window are left free (for tools: their definitions and the
        calls and results of the reply's own rounds). Replies are sent with their stored tool
        calls while there is room, newest first, for a model that takes tools.
        """
        counter = model.counter if model is not None else self.counter
        budget = model.budget if model is not None else self.budget
        if reserve:
            budget = Budget(budget.window - reserve, budget.completion)
        cap = self.history_tokens
        packer = ContextPacker(counter, budget, persona, conversation.summary, history_cap=cap)
        newest = await self.store.newest_turns_within(
            conversation.id,
            max(0, packer.room),
            after_seq=conversation.history_start,
            before_seq=before_seq,
        )
        found, batch = await self._images(newest, model)
        if model is not None and model.vision and found:  # the question's images come first
            reserve = images.cost(model.name, [p for t in batch for p in found.get(t.seq, [])])
            budget_left = Budget(budget.window - reserve, budget.completion)
            packer = ContextPacker(
                counter, budget_left, persona, conversation.summary, history_cap=cap
            )
        for turn in newest:
            if not packer.offer(turn):
                break
        request = packer.build()
        request.summarise_through = self._block_to_summarise(
            conversation, packer.kept, left_out=request.dropped
        )
        if model is not None and found:
            if model.vision:
                room = budget.prompt - request.prompt_tokens
                images.attach(request, packer.kept, found, model.name, room)
            else:
                request.unseen_images = sum(len(found.get(t.seq, [])) for t in batch)
        if model is not None and model.tools:
            await self._tool_calls(request, packer.kept, budget)
        if self.alternate_roles:
            request.messages = alternate(request.messages)
        if self.alternate_roles or counter.encoding is not self.counter.encoding:
            # Stored counts are the default tokenizer's: count this model's request exactly.
            request.prompt_tokens = counter.prompt(request.messages)
            fit_exactly(request, counter, budget)
        return request

    async def _images(
        self, newest: list[Turn], model: Model | None
    ) -> tuple[dict[int, list[Image]], list[Turn]]:
        """The images of the turns that may be sent (only the answered ones, for a model that
        cannot see them: to say so), and the answered turns."""
        if model is None:
            return {}, []
        batch = images.answered(newest)
        candidates = newest if model.vision else batch
        seqs = [turn.seq for turn in candidates if turn.role == "user"]
        return (await self.store.images_of(seqs) if seqs else {}), batch

    async def _tool_calls(self, request: ChatRequest, kept: list[Turn], budget: Budget) -> None:
        """The replies' stored tool calls, while the window (and the history cap) has room."""
        seqs = [turn.seq for turn in kept if turn.role == "assistant"]
        stored = await self.store.tools_of(seqs) if seqs else {}
        if not stored:
            return
        room = budget.prompt - request.prompt_tokens
        if self.history_tokens is not None:
            room = min(room, self.history_tokens - sum(turn.tokens for turn in kept))
        tool_loop.attach(request, kept, stored, room)

    async def set_tool_calls(self, turn: Turn, exchange: Exchange) -> None:
        """Keep a reply's tool calls and results with it (counted with the default tokenizer,
        like the turns), to be re-sent while there is room."""
        tokens = sum(self.counter.chat_message(m) for m in exchange.messages())
        await self.store.set_tools(turn.seq, exchange.to_json(), tokens)

    async def tool_calls(self, seq: int) -> Exchange:
        """A reply's tool calls, for the person who asks to see them."""
        stored = await self.store.tools_of([seq])
        return Exchange.from_json(stored[seq][0]) if seq in stored else Exchange()

    async def add_images(self, turn: Turn, pictures: tuple[Image, ...]) -> None:
        await self.store.add_images(turn.seq, list(pictures))

    def learn_alternating_roles(self) -> bool:
        """A server refused turns of one role in a row: merge them from now on. False when
        that is already done, or turned off."""
        if self.alternate_roles is not None:
            return False
        log.warning("The model server wants alternating roles; merging same-role turns from now on")
        self.alternate_roles = True
        return True

    def _block_to_summarise(
        self, conversation: Conversation, kept: list[Turn], *, left_out: bool = False
    ) -> int | None:
        """When the history sent passes ``SUMMARISE_FROM`` of ``history_tokens``, or older
        turns were ``left_out`` (long messages can fill the cap before that share), the oldest
        turns to fold away so that about ``EVICT_TO`` of it remains; also any evicted turns
        still unsummarised."""
        pending = (
            conversation.history_start
            if conversation.summary_through < conversation.history_start
            else None
        )
        if self.history_tokens is None:
            return pending
        sent = sum(turn.tokens for turn in kept)
        if not kept or (sent <= self.history_tokens * SUMMARISE_FROM and not left_out):
            return pending
        keep, total = 0, 0
        for turn in kept:  # newest first
            if keep and total + turn.tokens > self.history_tokens * EVICT_TO:
                break
            keep, total = keep + 1, total + turn.tokens
        while keep > 1 and kept[keep - 1].role == "assistant":
            keep -= 1  # start the window at a question, not at an answer to a folded one
        return kept[keep - 1].seq - 1
