"""What the model gets from a Discord message: its text without the bot's mention, the message
it replies to, forwarded messages, text attachments read in, and images for vision models."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.core import attachments, images
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
        rendered, pictures = [], []
        for file in files:
            if images.is_image(file.filename, file.content_type):
                picture = await self._image(file)
                rendered.append(attachments.image(file.filename, readable=picture is not None))
                pictures += [picture] if picture is not None else []
            else:
                rendered.append(await self._text(file))
        text = "\n\n".join(part for part in parts if part)
        return Said(attachments.with_attachments(text, rendered), tuple(pictures))

    def edited(self, message: discord.Message, stored: str) -> str:
        """The stored turn of an edited ``message`` with its new text; what was read from its
        attachments when it was stored is kept (they can't change, and are not downloaded
        again), as is the message it replies to and what it forwards."""
        snapshots = message.message_snapshots
        files = [*message.attachments, *(a for s in snapshots for a in s.attachments)]
        return attachments.edited(
            stored, self.prompt_text(message),
            [(file.filename, images.is_image(file.filename, file.content_type)) for file in files],
            forwards=len(snapshots), replying=message.type is REPLY,
        )  # fmt: skip

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
