"""/voice on|off|show: replies read out as voice messages, per conversation, channel or server
(the rule: :func:`bot.core.choices.voiced`; who may choose: as for personas)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs.scopes import (
    EVERY_INSTALL,
    EVERYWHERE,
    SET_SCOPE,
    ScopeOption,
    conversation_here,
    private,
    said,
    scope_id,
    target,
)

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot


class VoiceCommands(commands.Cog):
    voice = app_commands.Group(
        name="voice", description="Replies read out as voice messages",
        allowed_installs=EVERY_INSTALL, allowed_contexts=EVERYWHERE,
    )  # fmt: skip

    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    @voice.command(name="on")
    @app_commands.describe(scope=SET_SCOPE)
    async def voice_on(self, interaction: discord.Interaction, scope: ScopeOption = "here") -> None:
        """Read replies out as voice messages here, or by default in this server."""
        await self._set(interaction, scope, True)

    @voice.command(name="off")
    @app_commands.describe(scope=SET_SCOPE)
    async def voice_off(
        self, interaction: discord.Interaction, scope: ScopeOption = "here"
    ) -> None:
        """Stop reading replies out here, or by default in this server."""
        await self._set(interaction, scope, False)

    @voice.command(name="show")
    async def voice_show(self, interaction: discord.Interaction) -> None:
        """Whether replies are read out here, and where that was chosen."""
        words = said(interaction)
        if not self.bot.settings.tts_model:
            await private(interaction, words.speak_unavailable)
            return
        conversation = await conversation_here(self.bot, interaction)
        on, source = (
            await self.bot.core.choices.voice_for(conversation)
            if conversation is not None
            else (False, None)
        )
        await private(interaction, words.voice_shown(on, source))

    async def _set(self, interaction: discord.Interaction, scope: ScopeOption, on: bool) -> None:
        words = said(interaction)
        if not self.bot.settings.tts_model:
            await private(interaction, words.speak_unavailable)
            return
        where = await target(self.bot, interaction, scope)
        if where is None:
            return
        await self.bot.core.choices.set_voice(where, scope_id(interaction, where), on)
        await private(interaction, words.voice_set(where, on))


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(VoiceCommands(bot))
