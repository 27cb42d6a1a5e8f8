"""Mentions, threads and follow-ups: turns Discord messages into conversation turns and replies."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot import attachments, texts
from bot.limits import THREAD_NAME_LIMIT
from bot.llm import Failure
from bot.store import Conversation

from .generation import Generation
from .recovery import mend_interrupted_replies
from .reply import NO_MENTIONS

if TYPE_CHECKING:
    from bot.app import ChatBot

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 5.0  # seconds for running replies to finish their last edit on shutdown
ANSWERABLE_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def thread_name(prompt: str) -> str:
    """A thread title from the prompt's first line, within Discord's limit."""
    line = next((ln for ln in prompt.splitlines() if ln.strip()), "")
    line = re.sub(r"[*_`~|>#]+", "", line)
    line = " ".join(line.split())
    if len(line) > THREAD_NAME_LIMIT:
        line = line[: THREAD_NAME_LIMIT - 1].rsplit(" ", 1)[0].rstrip() + "…"
    return line or texts.THREAD_NAME_FALLBACK


class Chat(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        # Replies being generated, by prompt message id: deleting the prompt cancels its reply.
        self.active: dict[int, Generation] = {}
        self._answering: set[asyncio.Task[object]] = set()
        self._logged_once: set[Failure] = set()
        self._mending: asyncio.Task[None] | None = None

    # -- events -------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.type not in ANSWERABLE_TYPES or self.bot.user is None:
            return
        mentioned = self._mentions_me(message)
        conversation = await self.bot.conversations.get(message.channel.id)
        if conversation is None and not mentioned and message.guild is not None:
            return  # not for us
        text = await self.turn_text(message)
        if not text:  # an attachment alone, or a bare mention
            if conversation is None and mentioned:
                await self._notice(message, texts.EMPTY_MENTION)
            return
        await self.take_turn(message, text, message.author, conversation)

    async def take_turn(
        self,
        message: discord.Message,
        text: str,
        author: discord.abc.User,
        conversation: Conversation | None = None,
    ) -> None:
        """Store ``text`` (said by ``author``, shown in ``message``) as a turn and answer it,
        opening the conversation first if there is none. Mentions and /chat both end here."""
        channel: discord.abc.Messageable = message.channel
        if conversation is None:
            opened = await self._open_conversation(message, text, owner_id=author.id)
            if opened is None:
                return
            conversation, channel = opened
        turn = await self.bot.conversations.add_user_turn(
            conversation.id, message_id=message.id, content=text, author=author.display_name
        )
        if turn is None:
            return  # the gateway redelivered a message we already have
        await self.answer(conversation, channel, author, message.id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        if message.author.bot or "content" not in payload.data:
            return  # not a user's text edit (embeds resolving, pins, ...)
        conversations = self.bot.conversations
        if not await conversations.get(message.channel.id) and not await conversations.get(
            message.id
        ):
            return  # not in a conversation (a thread opened on a message shares its id)
        text = await self.turn_text(message)
        if text:
            await conversations.edit_user_turn(message.id, text, message.author.display_name)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        generation = self.active.get(payload.message_id)
        if generation is not None:
            generation.stop()  # the question is gone: stop answering it
        await self.bot.conversations.forget_message(payload.message_id)

    async def cog_load(self) -> None:
        if self.bot.interrupted_replies:
            self._mending = asyncio.create_task(
                mend_interrupted_replies(self.bot, self.bot.interrupted_replies),
                name="mend-interrupted-replies",
            )

    async def cog_unload(self) -> None:
        """On shutdown, stop every reply, and give each a moment to show and store what it has."""
        if self._mending is not None:
            self._mending.cancel()
        for generation in list(self.active.values()):
            generation.stop()
        if self._answering:
            await asyncio.wait(self._answering, timeout=SHUTDOWN_GRACE)

    # -- helpers ------------------------------------------------------------------------------

    def _mentions_me(self, message: discord.Message) -> bool:
        """The bot's user, or its own role (Discord's autocomplete often picks the role)."""
        role = message.guild.self_role if message.guild else None
        return self.bot.user in message.mentions or (
            role is not None and role in message.role_mentions
        )

    def _strip_bot_mention(self, content: str, guild: discord.Guild | None = None) -> str:
        assert self.bot.user is not None
        role = guild.self_role if guild else None
        pattern = rf"<@!?{self.bot.user.id}>" + (rf"|<@&{role.id}>" if role else "")
        return re.sub(pattern, "", content).strip()

    async def turn_text(self, message: discord.Message) -> str:
        """What the model gets from a message: its text, then any text attachments."""
        return attachments.with_attachments(
            self.prompt_text(message), [await self._read(a) for a in message.attachments]
        )

    def prompt_text(self, message: discord.Message) -> str:
        """The message without the bot's mention; other mentions become readable names."""
        text = self._strip_bot_mention(message.content, message.guild)
        for user in message.mentions:
            text = re.sub(rf"<@!?{user.id}>", f"@{user.display_name}", text)
        return text.strip()

    @staticmethod
    async def _read(attachment: discord.Attachment) -> str:
        data = None
        if attachments.should_read(attachment.filename, attachment.content_type, attachment.size):
            try:
                data = await attachment.read()
            except discord.HTTPException:
                log.warning("Could not download attachment %s", attachment.filename)
        return attachments.render(attachment.filename, data)

    async def _notice(self, message: discord.Message, text: str) -> None:
        try:
            await message.reply(text, allowed_mentions=NO_MENTIONS, mention_author=False)
        except discord.HTTPException:
            log.warning("Could not answer message %s in channel %s", message.id, message.channel.id)

    async def _open_conversation(
        self, message: discord.Message, text: str, *, owner_id: int
    ) -> tuple[Conversation, discord.abc.Messageable] | None:
        """A DM, a thread we were mentioned in, or a new thread on the message."""
        channel = message.channel
        guild_id = message.guild.id if message.guild else None
        if isinstance(channel, discord.Thread) or message.guild is None:  # a thread, or a DM
            parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
            conversation = await self.bot.conversations.start(
                channel.id, guild_id=guild_id, parent_id=parent_id, owner_id=owner_id
            )
            return conversation, channel
        if not isinstance(channel, discord.TextChannel):
            await self._notice(message, texts.NOT_A_THREAD_CHANNEL)
            return None
        await asyncio.sleep(self.bot.pacer.request_slot(priority=True)[1])
        try:
            thread = await message.create_thread(name=thread_name(text), auto_archive_duration=1440)
        except discord.Forbidden:
            await self._notice(message, texts.NO_THREAD_PERMISSION)
            return None
        conversation = await self.bot.conversations.start(
            thread.id, guild_id=guild_id, parent_id=channel.id, owner_id=owner_id
        )
        return conversation, thread

    # -- answering ----------------------------------------------------------------------------

    async def answer(
        self,
        conversation: Conversation,
        channel: discord.abc.Messageable,
        requester: discord.abc.User,
        prompt_id: int,
    ) -> None:
        """Answer the newest turn in ``channel``. One reply at a time per conversation, so a
        quick follow-up waits for the reply it follows."""
        task = asyncio.current_task()
        assert task is not None
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)
        async with self.bot.conversations.lock(conversation.id):
            conversation = await self.bot.conversations.get(conversation.id) or conversation
            generation = Generation(
                self.bot, conversation, channel, requester.id, self._logged_once
            )
            self.active[prompt_id] = generation
            try:
                await generation.run()
            finally:
                self.active.pop(prompt_id, None)
