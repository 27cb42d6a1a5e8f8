"""The chat extension: mention → thread → streamed replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.chat.cog import ChatEvents

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(ChatEvents(bot))
