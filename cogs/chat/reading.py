"""What the model gets from a Discord message: its text without the bot's mention, the message
it replies to, forwarded messages, text attachments read in, and images for vision models."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import discord

from bot import attachments, images
from bot.replies import Said
from bot.store import Image

if TYPE_CHECKING:
    from bot.app import ChatBot

log = logging.getLogger(__name__)

REPLY = discord.MessageType.reply


class Reader:
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

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

    def prompt_text(self, message: discord.Message) -> str:
        """The message without the bot's mention; other mentions become readable names."""
        text = self._strip_bot_mention(message.content, message.guild)
        for user in message.mentions:
            text = re.sub(rf"<@!?{user.id}>", f"@{user.display_name}", text)
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
            except discord.HTTPException:
                log.warning("Could not download attachment %s", attachment.filename)
        return attachments.render(attachment.filename, data)

    async def _image(self, attachment: discord.Attachment) -> Image | None:
        """Downloaded, and downscaled off the event loop; None if it can't be read."""
        if attachment.size > images.MAX_BYTES:
            return None
        try:
            data = await attachment.read()
        except discord.HTTPException:
            log.warning("Could not download image %s", attachment.filename)
            return None
        return await asyncio.to_thread(images.prepare, data, self.bot.settings.image_max_side)
