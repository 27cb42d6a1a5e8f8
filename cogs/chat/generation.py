"""One reply, from request to stored turn: admission by the limiter, the model stream shown as it
grows, the outcome stored and the usage recorded. Runs under the conversation's lock."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from bot import texts
from bot.context import ChatRequest
from bot.llm import Failure, LLMError, Reply
from bot.ratelimit import Ticket, scope_of
from bot.store import Conversation, Turn, TurnStatus

from .reply import NO_MENTIONS, ReplyStreamer, StopView, typing

if TYPE_CHECKING:
    from bot.app import ChatBot

log = logging.getLogger(__name__)

SHORT_WAIT = 5.0  # seconds: a rate-limit wait up to this is waited out with the typing indicator


@dataclass
class Generation:
    bot: ChatBot
    conversation: Conversation
    channel: discord.abc.Messageable
    requester_id: int
    logged_once: set[Failure]  # failures that admins need to see once, not on every message
    reply: Reply = field(default_factory=Reply)
    request: ChatRequest = field(init=False)  # built under the lock, rebuilt if too long
    producer: asyncio.Task[None] | None = None
    streamer: ReplyStreamer | None = None
    _turn: Turn | None = None  # the assistant turn, stored at the first text as streaming

    def stop(self) -> None:
        if self.producer is not None:
            self.producer.cancel()

    async def run(self) -> None:
        conversations = self.bot.conversations
        self.request = await conversations.build(self.conversation)
        ticket = await self._admit()
        if ticket is None:
            return
        self.streamer = ReplyStreamer(
            self.channel, self.conversation.id, self.bot.pacer,
            view=StopView(self.requester_id, self.stop), on_gone=self.stop,
            on_posted=self._posted,
        )  # fmt: skip
        self.streamer.start()
        self.producer = asyncio.create_task(
            self._produce(), name=f"generate-{self.conversation.id}"
        )
        try:
            await asyncio.wait({self.producer})
        finally:
            self.producer.cancel()  # no-op when done; stops it if we are being cancelled
        await self._finish(ticket)

    async def _admit(self) -> Ticket | None:
        """Wait out a short rate-limit wait; refuse a long one with a plain notice."""
        tokens = self.request.prompt_tokens + self.bot.settings.max_completion_tokens
        scope = scope_of(self.conversation.guild_id, self.requester_id)
        while True:
            decision = self.bot.limiter.acquire(scope, self.requester_id, tokens)
            if decision.ticket is not None:
                return decision.ticket
            if decision.wait > SHORT_WAIT:
                log.info("Refused a request in %s: %s limit", self.conversation.id, decision.limit)
                await self.channel.send(
                    texts.rate_limited(decision.limit, decision.wait), allowed_mentions=NO_MENTIONS
                )
                return None
            async with typing(self.channel):
                await asyncio.sleep(decision.wait)

    async def _produce(self) -> None:
        assert self.streamer is not None
        for attempt in range(2):
            try:
                stream = self.bot.llm.stream(
                    self.request.messages,
                    max_tokens=self.bot.settings.max_completion_tokens,
                    reply=self.reply,
                    on_retry=self._on_retry,
                    cache_key=self._cache_key(),
                )
                async for delta in stream:
                    if self._turn is None:
                        self._turn = await self.bot.conversations.begin_reply(self.conversation.id)
                    if delta.text:  # reasoning is never shown
                        self.streamer.feed(delta.text)
                return
            except LLMError as error:
                if error.failure is not Failure.CONTEXT_LENGTH or attempt or self.reply.text:
                    raise
                # The window table was wrong for this model: remember a smaller one, retry once.
                self.bot.conversations.shrink_window(self.request.prompt_tokens)
                self.request = await self.bot.conversations.build(self.conversation)
            finally:
                self.bot.limiter.observe(self.reply.headers)

    async def _posted(self, message: discord.Message) -> None:
        """Remember where the reply is shown, so that a restart can mend it after a crash."""
        if self._turn is not None:
            await self.bot.store.attach_message(self._turn.seq, message.id)

    def _cache_key(self) -> str | None:
        """OpenAI routes requests with the same key to the same prompt cache."""
        if not self.bot.settings.sends_prompt_cache_key:
            return None
        return f"discord-conversation-{self.conversation.id}"

    async def _on_retry(self, error: LLMError, delay: float) -> None:
        assert self.streamer is not None
        self.streamer.placeholder = texts.RETRYING

    def _outcome(self) -> tuple[TurnStatus, str]:
        """How the generation ended: the stored status and the note shown under the reply."""
        assert self.producer is not None
        if self.producer.cancelled():
            return TurnStatus.INTERRUPTED, texts.STOPPED
        error = self.producer.exception()
        if error is None:
            if not self.reply.text.strip():
                return TurnStatus.COMPLETE, texts.EMPTY_REPLY
            if self.reply.finish_reason == "length":
                return TurnStatus.COMPLETE, texts.LENGTH_LIMIT
            return TurnStatus.COMPLETE, ""
        if isinstance(error, LLMError):
            if error.failure in (Failure.AUTH, Failure.QUOTA, Failure.MODEL_NOT_FOUND):
                if error.failure not in self.logged_once:
                    self.logged_once.add(error.failure)
                    log.error("The model service refused the bot's account: %s", error.detail)
            else:
                log.warning("Model call failed: %s", error.detail)
            cut = error.failure is Failure.CUT_OFF
            return (TurnStatus.INTERRUPTED if cut else TurnStatus.COMPLETE), texts.failure_text(
                error.failure
            )
        log.error("Reply generation failed", exc_info=error)
        return TurnStatus.INTERRUPTED, texts.internal_error()

    async def _finish(self, ticket: Ticket) -> None:
        assert self.streamer is not None
        streamer, conversations = self.streamer, self.bot.conversations
        status, note = self._outcome()
        # A first message posted later, during the last edit, is attached by _posted.
        first = streamer.messages[0].id if streamer.messages else None
        if self._turn is not None:  # stored before the last edit, which may be paced
            await conversations.finish_reply(
                self._turn, self.reply.text, status=status, message_id=first
            )
        try:
            await streamer.finish(note)
        except (discord.HTTPException, RuntimeError):  # RuntimeError: closed during shutdown
            log.exception("Could not show the end of a reply in channel %s", self.conversation.id)
        if self.request.summarise_through is not None and self.bot.summarizer is not None:
            self.bot.summarizer.request(self.conversation.id, self.request.summarise_through)
        usage = self.reply.spent(self.request.prompt_tokens, self.bot.counter.count)
        if usage is None:
            self.bot.limiter.settle(ticket, 0)
            return
        self.bot.limiter.settle(ticket, usage.prompt_tokens + usage.completion_tokens)
        await self.bot.store.add_usage(
            guild_id=self.conversation.guild_id,
            user_id=self.requester_id,
            day=dt.datetime.now(dt.UTC).date(),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
        )
