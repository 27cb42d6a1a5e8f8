"""/persona set|show|clear: the system message, per conversation, channel or server."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import texts
from bot.core.discord_limits import TEXT_INPUT_LIMIT
from bot.core.policy import may_submit_form
from cogs.scopes import (
    CLEAR_SCOPE,
    EVERY_INSTALL,
    EVERYWHERE,
    SET_SCOPE,
    ScopeOption,
    chosen_here,
    private,
    said,
    scope_id,
    target,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.app.chatbot import ChatBot

    PersonaSetter = Callable[[discord.Interaction, str], Awaitable[None]]

PERSONA_LIMIT = TEXT_INPUT_LIMIT  # the form's field holds no more
FORM_TIMEOUT = 600.0  # seconds a persona form waits to be submitted


class PersonaModal(discord.ui.Modal):
    """A paragraph field for long, multi-line personas, prefilled with the current one. Only
    the person who opened it may submit it (discord.py finds a modal by its custom id alone);
    it is forgotten after ``FORM_TIMEOUT`` (a dismissed form is never submitted)."""

    def __init__(
        self, current: str, apply: PersonaSetter, words: texts.Texts, *, opener_id: int
    ) -> None:
        super().__init__(
            title=words.persona_form_title, timeout=FORM_TIMEOUT,
            custom_id=f"persona:{opener_id}:{secrets.token_hex(8)}",
        )  # fmt: skip
        self.apply: PersonaSetter | None = apply
        self.opener_id = opener_id
        self.text = discord.ui.TextInput(
            label=words.persona_form_label, style=discord.TextStyle.paragraph,
            default=current[:PERSONA_LIMIT], max_length=PERSONA_LIMIT, custom_id="persona_text",
        )  # fmt: skip
        self.add_item(self.text)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if may_submit_form(interaction.user.id, self.opener_id) and self.apply is not None:
            return True
        await private(interaction, said(interaction).not_your_form)
        return False

    async def on_submit(self, interaction: discord.Interaction) -> None:
        apply, self.apply = self.apply, None  # once
        if apply is not None:
            await apply(interaction, self.text.value)

    async def on_timeout(self) -> None:
        self.apply = None  # let go of what the form would have set


class PersonaCommands(commands.Cog):
    persona = app_commands.Group(
        name="persona", description="The bot's persona (system message)",
        allowed_installs=EVERY_INSTALL, allowed_contexts=EVERYWHERE,
    )  # fmt: skip

    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    @persona.command(name="set")
    @app_commands.describe(
        text="The persona; leave empty to write a long one in a form",
        scope=SET_SCOPE,
    )
    async def persona_set(
        self, interaction: discord.Interaction, text: str | None = None, scope: ScopeOption = "here"
    ) -> None:
        """Set the persona (system message) for this conversation, channel or server."""
        where = await target(self.bot, interaction, scope)
        if where is None:
            return

        async def apply(inner: discord.Interaction, value: str) -> None:
            value = value.strip()
            if inner is not interaction and await target(self.bot, inner, scope) != where:
                return  # the form's permission checked again: it may be minutes later
            if not value:
                await private(inner, said(inner).persona_empty)
            elif len(value) > PERSONA_LIMIT:
                await private(inner, said(inner).persona_too_long(len(value), PERSONA_LIMIT))
            else:
                await self.bot.core.choices.set_persona(where, scope_id(inner, where), value)
                await private(inner, said(inner).persona_set(where))

        if text is not None:
            await apply(interaction, text)
            return
        current, _ = await chosen_here(self.bot, interaction)
        await interaction.response.send_modal(
            PersonaModal(current.value, apply, said(interaction), opener_id=interaction.user.id)
        )

    @persona.command(name="show")
    async def persona_show(self, interaction: discord.Interaction) -> None:
        """Show the persona in effect here and where it comes from."""
        persona, _ = await chosen_here(self.bot, interaction)
        await private(interaction, said(interaction).persona_shown(persona.value, persona.source))

    @persona.command(name="clear")
    @app_commands.describe(scope=CLEAR_SCOPE)
    async def persona_clear(
        self, interaction: discord.Interaction, scope: ScopeOption = "here"
    ) -> None:
        """Remove a persona, so the next one up (channel, server, built-in) applies."""
        where = await target(self.bot, interaction, scope)
        if where is None:
            return
        await self.bot.core.choices.set_persona(where, scope_id(interaction, where), None)
        await private(interaction, said(interaction).persona_cleared(where))


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(PersonaCommands(bot))
