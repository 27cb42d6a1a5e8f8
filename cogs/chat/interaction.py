"""/chat where the bot is not a member: the app installed to someone's account and used in a DM
with another person, a group DM, or a server without the bot. The bot can neither read nor
post there, so the reply lives in the interaction's own messages, through its webhook.

Where: :func:`bot_absent` reads it from the interaction. Its ``context`` says a private channel
(another DM, a group DM: never the bot's) or the bot's own DM; in a server, the bot is a member
when its gateway knows the guild (an app installed to the user only, or to the server without
the bot, is not); a server the bot is in but can't see yet is neither (:func:`presence`). The
place's conversation is keyed by its channel id, like a DM's, marked as reached only through
/chat (``via_interaction``: messages there are never answered, even once the bot joins that
server), and belongs to no server (the person's own limits and usage apply), so a later /chat
there continues it.

How: the response is the prompt, quoted, as /chat does everywhere (everyone there sees what was
asked); the reply streams into follow-ups of that interaction, each edited through its webhook
(exempt from Discord's global limit; :mod:`bot.core.rest_budget` does not charge it). Discord gives a
user-installed app 5 follow-ups per interaction, and the token works for 15 minutes: the surface
says so (:class:`~bot.core.replies.Limits`), and the core cuts a reply short with a note, shown while
the token still works. The Stop button works there as anywhere (only for the askers: nobody has
Manage Messages in a DM). A later /chat during a reply queues; the batch is answered under the
newest /chat, whose token is the freshest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.app.places import place_of
from bot.core import texts
from bot.core.conversations import where_to_start
from bot.core.discord_limits import (
    INVALID_WEBHOOK_TOKEN,
    MESSAGE_LIMIT,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
)
from bot.core.replies import (
    Answer,
    Button,
    Failed,
    Gone,
    Limits,
    Question,
    Said,
    Submitted,
    SurfaceError,
)
from cogs.chat import tool_buttons
from cogs.chat.surface import NO_MENTIONS, button_view

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

log = logging.getLogger(__name__)

FOLLOWUPS = 5  # follow-ups Discord lets a user-installed app send for one interaction
END_ROOM = 30.0  # seconds before the token expires kept for the reply's last edit (and retries)
GONE_CODES = {UNKNOWN_MESSAGE, UNKNOWN_WEBHOOK, INVALID_WEBHOOK_TOKEN}


class Presence(Enum):
    """Whether the bot is a member where an interaction was used."""

    PRESENT = "present"
    ABSENT = "absent"  # only the interaction's webhook reaches the place
    UNKNOWN = "unknown"  # a server it is in that is unavailable or not loaded yet


def presence(bot: ChatBot, interaction: discord.Interaction) -> Presence:
    """Where ``interaction`` was used, as the bot stands there. A server missing from the
    cache is "absent" only when that is sure: the app was not installed to that server (a
    person's install brought the interaction), or the gateway is ready (its cache then holds
    every server the bot is in, unavailable ones too). Otherwise "unknown", never "absent": a
    conversation keyed as a place the bot can't see would be wrong, and so would a notice
    about the permissions of a server the bot can't read yet."""
    context = interaction.context
    if context.private_channel:
        return Presence.ABSENT
    if context.dm_channel:
        return Presence.PRESENT
    if interaction.guild_id is not None:
        guild = bot.get_guild(interaction.guild_id)
        if guild is not None:
            return Presence.UNKNOWN if guild.unavailable else Presence.PRESENT
        if not interaction.is_guild_integration() or bot.is_ready():
            return Presence.ABSENT
        return Presence.UNKNOWN
    if isinstance(interaction.channel, discord.GroupChannel):  # a payload without context
        return Presence.ABSENT
    return Presence.PRESENT


def bot_absent(bot: ChatBot, interaction: discord.Interaction) -> bool:
    """Whether the bot is surely not a member where ``interaction`` was used, so that only the
    interaction's webhook reaches the place."""
    return presence(bot, interaction) is Presence.ABSENT


class InteractionSurface:
    """A reply in follow-ups of ``interaction``, created and edited through its webhook."""

    def __init__(
        self,
        bot: ChatBot,
        interaction: discord.Interaction,
        *,
        conversation_id: int,
        words: texts.Texts = texts.EN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.webhook = interaction.followup
        self.conversation_id = conversation_id
        self.words = words
        left = (interaction.expires_at - discord.utils.utcnow()).total_seconds()
        self._limits = Limits(messages=FOLLOWUPS, until=clock() + left - END_ROOM, charged=False)
        self._channel_id = interaction.channel_id or conversation_id

    @property
    def channel_id(self) -> int:
        return self._channel_id

    @property
    def limits(self) -> Limits:
        return self._limits

    async def ready(self) -> None:
        return None  # the interaction's webhook is there already

    def _view(self, button: Button | None) -> dict[str, Any]:
        if button is not None and button.speak:  # a voice message can't go through a webhook
            button = dataclasses.replace(button, speak=False)
        view = button_view(button, self.conversation_id, self.words)
        return {"view": view} if view is not None else {}

    async def post(self, text: str, *, button: Button | None, reply_to: int | None = None) -> int:
        """A follow-up; ``reply_to`` is left out (webhooks can't reply), the follow-ups show
        which /chat they answer."""
        try:
            message = await self.webhook.send(
                text, wait=True, allowed_mentions=NO_MENTIONS, **self._view(button)
            )
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise _error(exc) from exc
        return message.id

    async def edit(self, message_id: int, text: str, *, button: Button | None) -> None:
        view = button_view(button, self.conversation_id, self.words)
        try:
            await self.webhook.edit_message(
                message_id, content=text, view=view, allowed_mentions=NO_MENTIONS
            )
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise _error(exc) from exc

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        """None: the bot may not type in a channel it is not in."""
        yield

    async def ask(self, question: Question) -> Answer:
        """Privately, to the person who used /chat (the only one who may answer)."""

        async def post(text: str, view: discord.ui.View) -> discord.WebhookMessage:
            return await self.webhook.send(
                text, view=view, ephemeral=True, wait=True, allowed_mentions=NO_MENTIONS
            )

        return await tool_buttons.ask(post, question)

    async def speak(self, text: str, reply_to: int | None, asker_id: int) -> None:
        """Voice messages can't go through an interaction's webhook: replies stay text here."""

    async def tell(self, text: str) -> None:
        """Privately, to the person who used /chat."""
        try:
            await self.webhook.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.warning("Could not tell the user in %s: %s", self._channel_id, exc)


def _error(exc: Exception) -> SurfaceError:
    """The token expired or the message was deleted (or Discord refuses this webhook, which
    retrying won't change): stop quietly; anything else may pass."""
    if isinstance(exc, discord.HTTPException) and (
        exc.status in (401, 403, 404) or exc.code in GONE_CODES
    ):
        return Gone(str(exc))
    return Failed(str(exc))


async def chat_by_interaction(
    bot: ChatBot, interaction: discord.Interaction, prompt: str, *, echo: str | None = None
) -> None:
    """/chat where the bot is absent: quote the prompt (or show ``echo``) as the response,
    store it as a turn of the place's conversation, and answer it in follow-ups."""
    user = interaction.user
    words = texts.for_locale(str(interaction.locale))
    shown = echo if echo is not None else f"**{user.display_name}:** {prompt}"
    callback = await interaction.response.send_message(
        shown[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS
    )
    message_id = callback.message_id or (await interaction.original_response()).id
    assert interaction.channel_id is not None  # /chat always comes from a channel
    here = place_of(interaction.channel, interaction.channel_id, interaction.guild_id, absent=True)
    start = where_to_start(here, user.id, message_id=message_id)
    assert start is not None  # a place the bot is absent from always has its own
    conversation_id = (await bot.core.conversations.start(start)).id

    async def read() -> Said:
        return Said(prompt)

    result = await bot.core.replies.submit(
        conversation_id, message_id=message_id, author_id=user.id,
        author_name=user.display_name, read_text=read, texts=words,
        surface=InteractionSurface(bot, interaction, conversation_id=conversation_id, words=words),
    )  # fmt: skip
    if result is Submitted.STORED:
        log.info("Stored /chat %s unanswered: shutting down", message_id)
