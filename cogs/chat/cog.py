"""Mentions, threads and follow-ups: Discord events turned into calls to the core's replies."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.app.places import flags_of, place_of
from bot.core import policy, texts
from bot.core.conversations import where_to_start
from bot.core.discord_limits import THREAD_ALREADY_CREATED, THREAD_NAME_LIMIT
from bot.core.notices import NoticeThrottle
from bot.core.ratelimit import Decision, LocalLimiter, scope_of
from bot.core.refusal import Refusal
from bot.core.replies import Said, Submitted
from bot.core.replies.service import GaveUp
from cogs.chat.reading import Reader
from cogs.chat.reasoning_button import ReasoningButton
from cogs.chat.recovery import mend_interrupted_replies
from cogs.chat.speak_button import SpeakButton
from cogs.chat.surface import Channel, DiscordSurface, StopButton, notice, typing
from cogs.chat.tool_buttons import ToolsButton

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

log = logging.getLogger(__name__)

REPLY = discord.MessageType.reply
ANSWERABLE_TYPES = (discord.MessageType.default, REPLY)


def thread_name(prompt: str, fallback: str = texts.EN.thread_name_fallback) -> str:
    """A thread title from the prompt's first line, within Discord's limit."""
    line = next((ln for ln in prompt.splitlines() if ln.strip()), "")
    line = re.sub(r"[*_`~|>#]+", "", line)
    line = " ".join(line.split())
    if len(line) > THREAD_NAME_LIMIT:
        line = line[: THREAD_NAME_LIMIT - 1].rsplit(" ", 1)[0].rstrip() + "…"
    return line or fallback


class ChatEvents(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        self._mending: asyncio.Task[None] | None = None
        self.reader = Reader(bot)
        self.throttle = NoticeThrottle()  # a refused person is told once in a while
        # This process's own count of conversations opened, per person and per server, at the
        # limiter's request rates: the limiter is charged only when a reply starts, so a burst
        # of mentions would all pass its peek before the first reply charges it. Bounded as
        # the limiter's buckets are.
        settings = bot.settings
        self.door = LocalLimiter(
            guild_rpm=settings.guild_rpm, guild_tpm=0, user_rpm=settings.user_rpm,
            dm_rpm=settings.dm_rpm, dm_tpm=0,
        )  # fmt: skip
        self._opening: set[asyncio.Task[discord.Thread]] = set()  # threads being opened

    # -- events -------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.type not in ANSWERABLE_TYPES or self.bot.user is None:
            return
        channel = message.channel
        in_dm = message.guild is None
        # In a server, only threads are conversations that messages reach (a channel's id is
        # a conversation only as a place /chat reached before the bot joined: never listened);
        # an uncached thread arrives as a partial channel.
        channel_kind = isinstance(channel, discord.abc.GuildChannel)
        known = False if channel_kind else self.bot.core.conversations.known(channel.id)
        if known is None:
            # Only past the in-memory index's capacity; a thread or DM may be a conversation.
            known = await self.bot.core.conversations.is_conversation(channel.id)
        mentioned = self._mentions_me(message)
        if not (known or mentioned or in_dm):
            return  # not for us
        # In a server this never suspends; in a DM with role or channel lists, a look-up may,
        # once per person per TTL, and messages waiting on it resume in their order.
        refusal = await self._refusal(message)
        if refusal is not None:  # the operator's access lists: no model call, one short notice
            if refusal is not Refusal.GUILD and self.throttle.should_tell(message.author.id):
                await notice(message, self.texts_for(message).refused(refusal))
            return
        if known:  # first await for a conversation's message: arrival order is kept
            await self._submit(message, channel, message.author, lambda: self.reader.said(message))
            return
        # Before anything is read, opened or said: a mention the limits would refuse opens
        # no thread, and its person is told once in a while, not once a message.
        limited = await self.opening_limited(
            message.guild.id if message.guild else None, message.author.id
        )
        if limited is not None:
            # One throttle with the replies' own rate-limit notices: one a minute a person.
            if self.bot.core.replies.deps.limit_notices.should_tell(message.author.id):
                words = self.texts_for(message)
                await notice(message, words.rate_limited(limited.limit, limited.wait))
            return
        said = await self.reader.said(message, new=True)
        if not said.text:  # a bare mention, or recordings none of which was heard
            words = self.texts_for(message)
            reasons = dict.fromkeys(h.refused for h in said.heard if h.refused is not None)
            limit = self.bot.settings.audio_max_seconds
            if reasons:
                await notice(message, "\n".join(words.audio_refused(r, limit) for r in reasons))
            elif mentioned:
                await notice(message, words.empty_mention)
            return
        await self.take_turn(message, said, message.author, known=False)

    async def opening_limited(self, guild_id: int | None, user_id: int) -> Decision | None:
        """The limiter's refusal of a new conversation's first reply, or None: the wait a
        reply would not wait out (a shorter one it waits, typing). Checked before a thread is
        opened; charges only this process's count of openings (:attr:`door`)."""
        scope = scope_of(guild_id, user_id)
        short = self.bot.core.replies.deps.short_wait
        decision = await self.bot.services.limiter.peek(scope, user_id)
        if decision.wait <= short:
            decision = self.door.decide(scope, user_id, 0)
            if decision.granted:
                return None
        log.info("Refused to open a conversation for %s: %s limit", user_id, decision.limit)
        self.bot.services.metrics.refused(decision.limit)
        return decision

    async def take_turn(
        self,
        message: discord.Message,
        said: Said,
        author: discord.abc.User,
        *,
        known: bool,
        manage_threads: bool | None = None,
    ) -> None:
        """Store what was ``said`` (by ``author``, shown in ``message``) as a turn and answer
        it, opening the conversation first unless ``known``. Mentions and /chat end here.
        ``manage_threads``: the author's permission where they asked, when known."""
        channel: Channel = message.channel
        channel_id = message.channel.id
        if not known:
            opened = await self._open_waiting(message, said.text, author, manage_threads)
            if opened is None:
                return
            channel_id, channel = opened

        async def read() -> Said:
            return said

        await self._submit(message, channel, author, read, channel_id)

    async def _open_waiting(
        self,
        message: discord.Message,
        text: str,
        author: discord.abc.User,
        manage_threads: bool | None,
    ) -> tuple[int, Channel] | None:
        """``_open_conversation``, tried again while the database is unreachable (typing
        meanwhile, once it takes a while); after the last try the person is told."""
        try:
            return await self.bot.core.replies.retrying(
                lambda _: self._open_conversation(
                    message, text, author=author, manage_threads=manage_threads
                ),
                f"open a conversation for message {message.id}",
                lambda: typing(message.channel),
            )
        except GaveUp:  # the store: nothing was shown or opened yet
            pass
        await notice(message, self.texts_for(message, author).not_saved)
        return None

    async def _submit(
        self,
        message: discord.Message,
        channel: Channel,
        author: discord.abc.User,
        read: Callable[[], Awaitable[Said]],
        channel_id: int | None = None,
    ) -> None:
        """Hand a message to the core, which reads it (``read``) in its turn."""
        conversation_id = channel_id or message.channel.id
        shown_in = conversation_id if isinstance(channel, asyncio.Task) else channel.id
        words = self.texts_for(message, author)
        result = await self.bot.core.replies.submit(
            conversation_id, message_id=message.id, author_id=author.id,
            author_name=author.display_name, read_text=read,
            surface=DiscordSurface(
                self.bot, channel, shown_in, conversation_id=conversation_id, fallback=message,
                in_thread=message.guild is not None, words=words,
                # A message answered on its own in someone else's thread: reply to it.
                reference=message.id if shown_in != conversation_id else None,
            ),
            texts=words,
        )  # fmt: skip
        if result is Submitted.STORED:
            log.info("Stored message %s unanswered: shutting down", message.id)
        elif result is Submitted.NOT_SAVED:
            log.warning("Message %s not stored: the database stayed unreachable", message.id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        if message.author.bot or "content" not in payload.data:
            return  # not a user's text edit (embeds resolving, pins, ...)
        # In a conversation, or a thread's first message (the thread shares its id). Only the
        # text of a stored turn changes: nothing is downloaded, nothing else is written.
        for conversation_id in (message.channel.id, message.id):
            if not await self.bot.core.conversations.is_conversation(conversation_id):
                continue
            if await self.bot.core.replies.edit(
                conversation_id, message.id, message.author.display_name,
                lambda stored: self.reader.edited(message, stored),
            ):  # fmt: skip
                return

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.bot.core.replies.forget(payload.message_id, payload.channel_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in payload.message_ids:
            await self.bot.core.replies.forget(message_id, payload.channel_id)

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        # Its conversation, and messages answered on their own in it (someone else's thread).
        # discord.py also sends this for each cached thread of a deleted channel.
        await self.bot.core.privacy.place_deleted(payload.thread_id)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        # (discord.py has no raw form: this needs the channel cached, as with the guilds
        # intent it is.) The conversations of threads opened from it, and a place keyed by it.
        await self.bot.core.privacy.place_deleted(channel.id)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self.bot.core.privacy.guild_left(guild.id)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        if await self._leave_if_not_allowed(guild):
            return
        await self.bot.core.privacy.guild_joined(guild.id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        for guild in list(self.bot.guilds):
            await self._leave_if_not_allowed(guild)

    async def _leave_if_not_allowed(self, guild: discord.Guild) -> bool:
        if self.bot.settings.access.guild_allowed(guild.id):
            return False
        log.warning("Leaving server %s (%s): not in ALLOWED_GUILDS", guild.name, guild.id)
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            log.warning("Could not leave server %s: %s", guild.id, exc)
        return True

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ReasoningButton, StopButton, ToolsButton, SpeakButton)
        if self.bot.workers is not None:  # a dead process's replies, found later: mend them
            self.bot.workers.on_orphans = lambda turns: mend_interrupted_replies(self.bot, turns)
        if self.bot.interrupted_replies:
            self._mending = asyncio.create_task(
                mend_interrupted_replies(self.bot, self.bot.interrupted_replies),
                name="mend-interrupted-replies",
            )

    async def cog_unload(self) -> None:
        if self._mending is not None:
            self._mending.cancel()

    # -- helpers ------------------------------------------------------------------------------

    async def _refusal(self, message: discord.Message) -> Refusal | None:
        """The access lists for the message's author (in a DM, looked up in the servers the
        lists name)."""
        guild_id = message.guild.id if message.guild else None
        place = place_of(message.channel, message.channel.id, guild_id)
        return await self.bot.refusal_for(message.author, place)

    def texts_for(
        self, message: discord.Message, author: discord.abc.User | None = None
    ) -> texts.Texts:
        """The language to answer in: the person's own (from their last interaction with the
        bot), else the server's preferred one."""
        locale = self.bot.locales.get((author or message.author).id)
        if locale is None and message.guild is not None:
            locale = str(message.guild.preferred_locale)
        return texts.for_locale(locale)

    def _mentions_me(self, message: discord.Message) -> bool:
        """The bot's user, or its own role (Discord's autocomplete often picks the role)."""
        role = message.guild.self_role if message.guild else None
        return self.bot.user in message.mentions or (
            role is not None and role in message.role_mentions
        )

    async def _open_conversation(
        self,
        message: discord.Message,
        text: str,
        *,
        author: discord.abc.User,
        manage_threads: bool | None = None,
    ) -> tuple[int, Channel] | None:
        """Start (or find) the conversation ``author`` asks in with ``message``
        (:func:`~bot.core.conversations.where_to_start`): its id, and the channel (a new
        thread is still being opened when this returns). ``author`` asked (for /chat, the
        caller: ``message`` is the bot's echo of the prompt); ``manage_threads``: their
        permission there, when known (an interaction carries it), else read from the cache."""
        channel = message.channel
        place = place_of(channel, channel.id, message.guild.id if message.guild else None)
        if manage_threads is None and isinstance(channel, discord.Thread):
            member = isinstance(author, discord.Member)
            manage_threads = member and channel.permissions_for(author).manage_threads
        start = where_to_start(
            place, author.id, message_id=message.id, manage_threads=bool(manage_threads)
        )
        if start is None:
            await notice(message, self.texts_for(message).not_a_thread_channel)
            return None
        if start.new_thread:
            assert isinstance(channel, discord.TextChannel)
            mine = flags_of(channel.permissions_for(channel.guild.me))
            lacking = policy.missing(mine, policy.TO_OPEN_THREAD)
            if lacking:  # say so before opening a thread we could not answer in
                await notice(message, self.texts_for(message).cannot_open_thread(lacking))
                return None
        await self.bot.core.conversations.start(start)
        if not start.new_thread:  # a DM, a thread, or a message answered on its own in one
            return start.conversation_id, channel
        # The model is asked while Discord opens the thread.
        opening = asyncio.create_task(self._open_thread(message, text), name=f"thread-{message.id}")
        self._opening.add(opening)
        opening.add_done_callback(self._opened)
        return start.conversation_id, opening

    def _opened(self, task: asyncio.Task[discord.Thread]) -> None:
        self._opening.discard(task)
        if not task.cancelled():
            task.exception()  # a failure was told to the user; don't warn it was never seen

    async def _thread_of(self, message: discord.Message) -> discord.Thread:
        """The thread already opened on ``message`` (it has the message's id)."""
        thread = message.guild.get_thread(message.id) if message.guild else None
        if thread is None:
            channel = await self.bot.fetch_channel(message.id)
            if not isinstance(channel, discord.Thread):
                raise discord.ClientException(f"{message.id} is not a thread")
            thread = channel
        log.info("Using the thread already opened on message %s", message.id)
        return thread

    async def _open_thread(self, message: discord.Message, text: str) -> discord.Thread:
        """Open the thread; if Discord refuses, say so next to the message (the reply waiting
        for the thread then stops quietly)."""
        said = self.texts_for(message)
        try:
            return await message.create_thread(
                name=thread_name(text, said.thread_name_fallback), auto_archive_duration=1440
            )
        except discord.Forbidden:
            label = policy.LABELS["create_public_threads"]
            await notice(message, said.cannot_open_thread([label]))
            raise
        except discord.HTTPException as exc:  # 429 or 5xx after discord.py's own retries
            if exc.code == THREAD_ALREADY_CREATED:  # a redelivery, or our own retried request
                return await self._thread_of(message)
            log.warning("Could not open a thread on message %s: %s", message.id, exc)
            await notice(message, said.thread_failed)
            raise
