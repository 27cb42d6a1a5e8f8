"""/tools show|on|off|clear: the tools replies may use here, and their servers switched on or
off for a channel or a server (the rule: :func:`bot.core.choices.switched`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.places import flags_of
from bot.core import policy
from bot.core.choices import switch_scopes
from bot.core.discord_limits import CHOICE_NAME_LIMIT, CHOICES_LIMIT, MESSAGE_LIMIT
from bot.core.replies.job import place_of as conversation_place
from bot.core.store import Scope
from bot.core.toolbox import Offered
from cogs.scopes import (
    EVERY_INSTALL,
    EVERYWHERE,
    conversation_here,
    place_here,
    private,
    refusal_text,
    said,
)

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

# Where a switch applies: this channel (a thread's: its channel) or the whole server.
WhereOption = Literal["channel", "server"]
WHERE = "channel: this channel and its threads; server: the whole server"
SERVER = "The tool server, as /tools show names it"


class ToolCommands(commands.Cog):
    tools = app_commands.Group(
        name="tools", description="The tools the model may use here",
        allowed_installs=EVERY_INSTALL, allowed_contexts=EVERYWHERE,
    )  # fmt: skip

    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    async def _place(self, interaction: discord.Interaction) -> policy.Place:
        """Where a reply here would use tools: the conversation's place, else the command's."""
        conversation = await conversation_here(self.bot, interaction)
        if conversation is not None:
            return conversation_place(conversation)
        return place_here(self.bot, interaction)

    async def _offered(self, interaction: discord.Interaction) -> tuple[Offered, ...]:
        return await self.bot.core.toolbox.offered(await self._place(interaction))

    @tools.command(name="show")
    async def tools_show(self, interaction: discord.Interaction) -> None:
        """Show the tools the model may use here, and which servers are on."""
        offered, words = await self._offered(interaction), said(interaction)
        text = words.tools_shown(offered) if offered else words.tools_none
        if len(text) > MESSAGE_LIMIT:
            text = text[: MESSAGE_LIMIT - 1] + "…"
        await private(interaction, text)

    @tools.command(name="on")
    @app_commands.describe(server=SERVER, where=WHERE)
    async def tools_on(
        self, interaction: discord.Interaction, server: str, where: WhereOption = "channel"
    ) -> None:
        """Turn a tool server on for this channel or the whole server (Manage Server)."""
        await self._switch(interaction, server, where, True)

    @tools.command(name="off")
    @app_commands.describe(server=SERVER, where=WHERE)
    async def tools_off(
        self, interaction: discord.Interaction, server: str, where: WhereOption = "channel"
    ) -> None:
        """Turn a tool server off for this channel or the whole server (Manage Server)."""
        await self._switch(interaction, server, where, False)

    @tools.command(name="clear")
    @app_commands.describe(server=SERVER, where=WHERE)
    async def tools_clear(
        self, interaction: discord.Interaction, server: str, where: WhereOption = "channel"
    ) -> None:
        """Remove a switch, so the server's (or the bot's) default applies again."""
        await self._switch(interaction, server, where, None)

    async def _switch(
        self, interaction: discord.Interaction, server: str, where: WhereOption, on: bool | None
    ) -> None:
        words, place = said(interaction), await self._place(interaction)
        decided = policy.tool_switch_target(where, place, flags=flags_of(interaction.permissions))
        if decided.refused is not None:
            await private(interaction, refusal_text(words, decided.refused))
            return
        server = server.strip()
        if server not in {o.server for o in await self.bot.core.toolbox.offered(place)}:
            await private(interaction, words.tools_unknown(server))
            return
        channel_id, guild_id = switch_scopes(place)
        scope_id = guild_id if decided.scope is Scope.GUILD else channel_id
        assert scope_id is not None  # in a server the bot is in (the policy said so)
        await self.bot.core.choices.set_tool_switch(decided.scope, scope_id, server, on)
        if on is not None:
            await private(interaction, words.tools_switched(server, on, decided.scope))
            return
        now = next(o.switch.on for o in await self.bot.core.toolbox.offered(place)
                   if o.server == server)  # fmt: skip
        await private(interaction, words.tools_cleared(server, decided.scope, now))

    @tools_on.autocomplete("server")
    @tools_off.autocomplete("server")
    @tools_clear.autocomplete("server")
    async def _servers(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        typed = typed.strip().lower()
        names = [o.server for o in await self._offered(interaction) if typed in o.server.lower()]
        return [
            app_commands.Choice(name=name[:CHOICE_NAME_LIMIT], value=name)
            for name in names[:CHOICES_LIMIT]
        ]


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(ToolCommands(bot))
