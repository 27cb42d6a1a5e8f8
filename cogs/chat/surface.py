"""The core's :class:`~bot.core.replies.Surface` on discord.py: a thread or DM to show replies in,
the Stop button, and Discord's errors translated into the core's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.core import texts
from bot.core.discord_limits import MISSING_ACCESS
from bot.core.policy import LABELS, posting
from bot.core.replies import (
    UNLIMITED,
    Answer,
    Button,
    Failed,
    Gone,
    Limits,
    Question,
    Refused,
    Stop,
    SurfaceError,
)
from cogs.chat import tool_buttons
from cogs.chat.speak_button import read_out
from cogs.chat.tool_buttons import finished_view

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


class StopButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"stop:(?P<conversation>\d+)",
):
    """The Stop button under a streaming reply. One handler for every reply (registered once
    with ``add_dynamic_items``): its custom id carries the conversation, so no view is kept per
    message or per edit, and a press is still answered after a restart. Who may press it is the
    core's rule (:meth:`bot.core.replies.Replies.stop`); this only asks."""

    def __init__(self, conversation_id: int, label: str = texts.EN.stop_button) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, emoji="⏹️",
                custom_id=f"stop:{conversation_id}",
            )
        )  # fmt: skip
        self.conversation_id = conversation_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> StopButton:
        return cls(int(match["conversation"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ChatBot = interaction.client  # type: ignore[assignment]
        assert interaction.message is not None
        result = bot.core.replies.stop(
            self.conversation_id, interaction.message.id, interaction.user.id,
            manage_messages=interaction.permissions.manage_messages,
        )  # fmt: skip
        if result is Stop.REFUSED:
            said = texts.for_locale(str(interaction.locale))
            await interaction.response.send_message(said.stop_refused, ephemeral=True)
        else:
            await interaction.response.defer()


def button_view(
    button: Button | None, conversation_id: int, words: texts.Texts
) -> discord.ui.View | None:
    """The view that shows the core's ``button`` under a reply in ``conversation_id``. Its one
    item is dynamic, so sending it stores nothing in discord.py's view store (a view with only
    dynamic items is routed by its custom id's pattern, not kept per message)."""
    if button is None:
        return None
    if button.kind == "finished":
        return finished_view(button, words)
    view = discord.ui.View(timeout=None)
    view.add_item(StopButton(conversation_id, words.stop_button))
    return view


Channel = discord.abc.Messageable | asyncio.Task[discord.Thread]


class DiscordSurface:
    """Replies in ``channel``; notices that can't go there reply to ``fallback`` (the asker's
    message in the channel a thread was opened from). ``channel`` may be a thread still being
    opened: the reply's model request need not wait for Discord, only its first post does."""

    def __init__(
        self,
        bot: ChatBot,
        channel: Channel,
        channel_id: int,
        fallback: discord.Message | None = None,
        *,
        in_thread: bool = True,
        words: texts.Texts = texts.EN,
        conversation_id: int | None = None,
        reference: int | None = None,
    ) -> None:
        self.bot = bot
        self.conversation_id = conversation_id or channel_id  # the queue a Stop button stops
        self.reference = reference  # a message every post replies to (an answer on its own)
        self.words = words  # the buttons' labels
        self.in_thread = in_thread  # a server conversation is a thread; else a DM
        self.channel = channel
        self._channel_id = channel_id
        self.fallback = fallback if fallback and fallback.channel.id != channel_id else None

    @property
    def channel_id(self) -> int:
        return self._channel_id

    @property
    def limits(self) -> Limits:
        return UNLIMITED

    async def _ready(self) -> discord.abc.Messageable:
        """The channel, once it exists; a thread that could not be opened stops the reply
        quietly (whoever opened it has told the user why)."""
        if not isinstance(self.channel, asyncio.Task):
            return self.channel
        try:
            return await asyncio.shield(self.channel)
        except asyncio.CancelledError:
            if not self.channel.cancelled():
                raise  # this reply is being cancelled, not the thread's opening
            raise Gone("no thread: its opening was cancelled") from None
        except (discord.DiscordException, aiohttp.ClientError, OSError) as exc:
            raise Gone(f"no thread: {exc}") from exc

    async def ready(self) -> None:
        await self._ready()

    def _view(self, button: Button | None) -> discord.ui.View | None:
        return button_view(button, self.conversation_id, self.words)

    def _error(self, exc: Exception) -> SurfaceError:
        if isinstance(exc, discord.NotFound):
            return Gone(str(exc))
        if isinstance(exc, discord.Forbidden):
            if exc.code == MISSING_ACCESS:
                return Refused(LABELS["view_channel"])
            return Refused(LABELS[posting(in_thread=self.in_thread)])
        return Failed(str(exc))

    async def post(self, text: str, *, button: Button | None, reply_to: int | None = None) -> int:
        reference = None
        reply_to = reply_to or self.reference
        if reply_to is not None and reply_to != self._channel_id:  # not a thread's starter
            reference = discord.MessageReference(
                message_id=reply_to, channel_id=self._channel_id, fail_if_not_exists=False
            )
        channel = await self._ready()
        try:
            message = await channel.send(
                text, view=self._view(button), reference=reference, allowed_mentions=NO_MENTIONS
            )
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise self._error(exc) from exc
        return message.id

    async def edit(self, message_id: int, text: str, *, button: Button | None) -> None:
        await self._ready()
        message = self.bot.get_partial_messageable(self._channel_id).get_partial_message(message_id)
        try:
            await message.edit(content=text, view=self._view(button), allowed_mentions=NO_MENTIONS)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise self._error(exc) from exc

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        try:
            channel = await self._ready()
        except Gone:
            yield
            return
        async with typing(channel):
            yield

    async def ask(self, question: Question) -> Answer:
        try:
            channel = await self._ready()
        except Gone:
            return Answer.TIMEOUT

        async def post(text: str, view: discord.ui.View) -> discord.Message:
            return await channel.send(text, view=view, allowed_mentions=NO_MENTIONS)

        return await tool_buttons.ask(post, question)

    async def speak(self, text: str, reply_to: int | None, asker_id: int) -> None:
        try:
            channel = await self._ready()
            guild = getattr(channel, "guild", None)
            failed = await read_out(
                self.bot, text, channel_id=channel.id, guild_id=guild.id if guild else None,
                asker_id=asker_id, reply_to=reply_to, words=self.words,
            )  # fmt: skip
        except Exception:  # a bug, or Discord gone: the reply stands, unread
            log.exception("Could not read a reply out in %s", self._channel_id)
            return
        if failed is not None:
            await self.tell(failed)

    async def tell(self, text: str) -> None:
        try:
            channel = await self._ready()
            await channel.send(text, allowed_mentions=NO_MENTIONS)
            return
        except (Gone, discord.HTTPException) as exc:
            if self.fallback is None:
                log.warning("Could not tell %s: %s", self._channel_id, exc)
                return
        await notice(self.fallback, text)


async def notice(message: discord.Message, text: str) -> None:
    """Answer ``message`` in place with a short notice; a failure is logged, not raised."""
    try:
        await message.reply(text, allowed_mentions=NO_MENTIONS, mention_author=False)
    except discord.HTTPException as exc:
        log.warning("Could not answer message %s in %s: %s", message.id, message.channel.id, exc)


@contextlib.asynccontextmanager
async def typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """The typing indicator, if Discord lets us show it; its failure never stops a reply."""
    indicator = channel.typing()
    try:
        await indicator.__aenter__()
    except discord.HTTPException:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(discord.HTTPException):
            await indicator.__aexit__(None, None, None)
