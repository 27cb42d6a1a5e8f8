"""/model set|show|clear: which model answers, per conversation, channel or server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.discord_limits import CHOICE_NAME_LIMIT, CHOICES_LIMIT
from bot.core.policy import model_choice_refusal
from bot.core.refusal import Refusal
from cogs.scopes import (
    CLEAR_SCOPE,
    EVERY_INSTALL,
    EVERYWHERE,
    SET_SCOPE,
    ScopeOption,
    chosen_here,
    place_here,
    private,
    said,
    scope_id,
    target,
)

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot


class ModelCommands(commands.Cog):
    model = app_commands.Group(
        name="model", description="Which model answers here",
        allowed_installs=EVERY_INSTALL, allowed_contexts=EVERYWHERE,
    )  # fmt: skip

    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    @model.command(name="set")
    @app_commands.describe(
        name="The model, as the model server names it",
        scope=SET_SCOPE,
    )
    async def model_set(
        self, interaction: discord.Interaction, name: str, scope: ScopeOption = "here"
    ) -> None:
        """Choose the model for this conversation, channel or server."""
        name = name.strip()
        models, words = self.bot.core.models, said(interaction)
        refusal = self._refusal(interaction, name)
        if refusal is not None:
            await private(interaction, words.model_refused(name, refusal, models.allowed))
            return
        where = await target(self.bot, interaction, scope)
        if where is None:
            return
        await self.bot.core.choices.set_model(where, scope_id(interaction, where), name)
        await private(interaction, words.model_set(where, name))

    @model_set.autocomplete("name")
    async def _names(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        names = [
            n for n in await self.bot.core.models.available() if not self._refusal(interaction, n)
        ]
        typed = typed.strip().lower()
        matches = [name for name in names if typed in name.lower()][:CHOICES_LIMIT]
        return [app_commands.Choice(name=name[:CHOICE_NAME_LIMIT], value=name) for name in matches]

    def _refusal(self, interaction: discord.Interaction, name: str) -> Refusal | None:
        """Why this person may not choose ``name`` (bot.core.policy), or None."""
        models = self.bot.core.models
        return model_choice_refusal(
            name, default=models.default, listed=models.choices, open_to_all=models.open_to_all,
            in_server=place_here(self.bot, interaction).in_server,
            manage_guild=interaction.permissions.manage_guild,
        )  # fmt: skip

    @model.command(name="show")
    async def model_show(self, interaction: discord.Interaction) -> None:
        """Show the model in effect here, where the choice comes from, and what it can do."""
        _, chosen = await chosen_here(self.bot, interaction)  # Models.effective, as replies
        model, words = await self.bot.core.models.get(chosen.value), said(interaction)
        text = words.model_shown(model.name, chosen.source, model.budget.window, model.vision)
        if chosen.ignored is not None:
            text += "\n" + words.model_ignored(chosen.ignored)
        await private(interaction, text)

    @model.command(name="clear")
    @app_commands.describe(scope=CLEAR_SCOPE)
    async def model_clear(
        self, interaction: discord.Interaction, scope: ScopeOption = "here"
    ) -> None:
        """Remove a model choice, so the next one up (channel, server, the bot's) applies."""
        where = await target(self.bot, interaction, scope)
        if where is None:
            return
        await self.bot.core.choices.set_model(where, scope_id(interaction, where), None)
        await private(interaction, said(interaction).model_cleared(where))


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(ModelCommands(bot))
