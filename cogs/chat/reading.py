"""What the model gets from a Discord message: its text without the bot's mention, the message
it replies to, forwarded messages, text attachments read in, and images for vision models."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.core import attachments, audio, images
from bot.core.replies import Said
from bot.core.store import Image

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

log = logging.getLogger(__name__)

REPLY = discord.MessageType.reply
DOWNLOAD_ERRORS = (discord.HTTPException, aiohttp.ClientError, TimeoutError)


class Reader:
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        self.decoder = images.Decoder(bot.settings.image_max_side)  # the process's only one

    async def said(self, message: discord.Message, *, new: bool = False) -> Said:
        """The message as a turn. ``new``: it opens a conversation, so the message it replies
        to is quoted (inside a conversation, that message is in the history already)."""
        parts = []
        replied = message.reference.resolved if message.reference else None
        if new and isinstance(replied, discord.Message) and message.type is REPLY:
            parts.append(attachments.replying_to(replied.author.display_name, replied.content))
        parts.append(self.prompt_text(message))
        files = list(message.attachments)
        for snapshot in message.message_snapshots:
            parts.append(attachments.forwarded(snapshot.content))
            files += snapshot.attachments
        rendered, pictures, heard = [], [], []
        for file in files:
            if images.is_image(file.filename, file.content_type):
                picture = await self._image(file)
                rendered.append(attachments.image(file.filename, readable=picture is not None))
                pictures += [picture] if picture is not None else []
            elif self._is_audio(message, file):
                heard.append(await self._audio(message, file))
                rendered.append(audio.render(heard[-1]))
            else:
                rendered.append(await self._text(file))
        text = "\n\n".join(part for part in parts if part)
        if not text and len(heard) == len(rendered) and not any(h.transcript for h in heard):
            return Said("", heard=tuple(heard))  # only recordings, none heard: no model call
        return Said(attachments.with_attachments(text, rendered), tuple(pictures), tuple(heard))

    def edited(self, message: discord.Message, stored: str) -> str:
        """The stored turn of an edited ``message`` with its new text; what was read from its
        attachments when it was stored is kept (they can't change, and are not downloaded
        again), as is the message it replies to and what it forwards."""
        snapshots = message.message_snapshots
        files = [*message.attachments, *(a for s in snapshots for a in s.attachments)]
        return attachments.edited(
            stored, self.prompt_text(message), [(f.filename, self._kind(message, f)) for f in files],
            forwards=len(snapshots), replying=message.type is REPLY,
        )  # fmt: skip

    def _kind(self, message: discord.Message, file: discord.Attachment) -> attachments.Kind:
        if images.is_image(file.filename, file.content_type):
            return "image"
        return "audio" if self._is_audio(message, file) else "file"

    @staticmethod
    def _is_audio(message: discord.Message, file: discord.Attachment) -> bool:
        """A recording: a voice message's attachment, or an audio file."""
        voice = bool(message.flags.value & audio.VOICE_FLAG) and file in message.attachments
        return voice or audio.is_audio(file.filename, file.content_type)

    def prompt_text(self, message: discord.Message) -> str:
        """The message without the bot's mention; other mentions become readable names."""
        text = self._strip_bot_mention(message.content, message.guild)
        for user in message.mentions:
            # Plain replacement: a display name is any text, backslashes and "\\g<0>" included.
            name = f"@{user.display_name}"
            text = text.replace(f"<@{user.id}>", name).replace(f"<@!{user.id}>", name)
        return text.strip()

    def _strip_bot_mention(self, content: str, guild: discord.Guild | None = None) -> str:
        assert self.bot.user is not None
        role = guild.self_role if guild else None
        pattern = rf"<@!?{self.bot.user.id}>" + (rf"|<@&{role.id}>" if role else "")
        return re.sub(pattern, "", content).strip()

    @staticmethod
    async def _text(attachment: discord.Attachment) -> str:
        data = None
        if attachments.should_read(attachment.filename, attachment.content_type, attachment.size):
            try:
                data = await attachment.read()
            except DOWNLOAD_ERRORS:
                log.warning("Could not download attachment %s", attachment.filename)
        return attachments.render(attachment.filename, data)

    async def _audio(self, message: discord.Message, attachment: discord.Attachment) -> audio.Heard:
        """Transcribed, after the checks that cost nothing and the person's limits and budgets
        (:func:`bot.core.audio.hear`)."""
        speech, meter = self.bot.services.speech, self.bot.core.meter
        model = speech.model if speech is not None else None
        guild_id = message.guild.id if message.guild is not None else None

        async def download() -> bytes | None:
            try:
                return await attachment.read()
            except DOWNLOAD_ERRORS:
                log.warning("Could not download recording %s", attachment.filename)
                return None

        return await audio.hear(
            attachment.filename, attachment.content_type, size=attachment.size,
            stated_seconds=attachment.duration, download=download, listener=self.bot.core.listener,
            transcribe=speech.transcribe if speech is not None and model else None,
            max_seconds=self.bot.settings.audio_max_seconds,
            toll=meter.toll(guild_id, message.author.id, model) if meter and model else None,
        )  # fmt: skip

    async def _image(self, attachment: discord.Attachment) -> Image | None:
        """Downloaded, and downscaled off the event loop; None if it can't be read."""
        width, height = attachment.width or 0, attachment.height or 0
        if attachment.size > images.MAX_BYTES or width * height > images.MAX_PIXELS:
            return None  # Discord's own figures say so: not even downloaded
        try:
            data = await attachment.read()
        except DOWNLOAD_ERRORS:
            log.warning("Could not download image %s", attachment.filename)
            return None
        return await self.decoder.prepare(data)
