"""Slash commands: /chat, /reset, /persona set|show|clear, /usage.

Every answer about settings is ephemeral; refusals name the permission that is needed. Slash
commands work without the Message Content intent.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import texts
from bot.permissions import LABELS, PERSONA_SCOPE_PERMISSION, may_manage_conversation
from bot.store import Conversation

from .chat.cog import Chat
from .chat.surface import NO_MENTIONS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.app import ChatBot
    from bot.choices import Chosen

    PersonaSetter = Callable[[discord.Interaction, str], Awaitable[None]]

log = logging.getLogger(__name__)

PERSONA_LIMIT = 4000


def said(interaction: discord.Interaction) -> texts.Texts:
    """Answers in the language of the person's Discord client."""
    return texts.for_locale(str(interaction.locale))


Scope = Literal["here", "server"]


class PersonaModal(discord.ui.Modal):
    """A paragraph field for long, multi-line personas, prefilled with the current one."""

    def __init__(self, current: str, apply: PersonaSetter, words: texts.Texts) -> None:
        super().__init__(
            title=words.persona_form_title,
            custom_id=f"persona:{discord.utils.utcnow().timestamp()}",
        )
        self.apply = apply
        self.text = discord.ui.TextInput(
            label=words.persona_form_label, style=discord.TextStyle.paragraph,
            default=current[:PERSONA_LIMIT], max_length=PERSONA_LIMIT, custom_id="persona_text",
        )  # fmt: skip
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.apply(interaction, self.text.value)


class Commands(commands.Cog):
    persona = app_commands.Group(name="persona", description="The bot's persona (system message)")

    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    # -- helpers ------------------------------------------------------------------------------

    async def _conversation_here(self, interaction: discord.Interaction) -> Conversation | None:
        channel_id = interaction.channel_id
        return await self.bot.conversations.get(channel_id) if channel_id else None

    @staticmethod
    def _may_manage_conversation(
        interaction: discord.Interaction, conversation: Conversation
    ) -> bool:
        return may_manage_conversation(
            interaction.user.id, conversation.owner_id,
            manage_threads=interaction.permissions.manage_threads,
        )  # fmt: skip

    @staticmethod
    def _may_set_default(interaction: discord.Interaction, kind: str) -> str | None:
        """None if the user may set ``kind``'s default persona; else the refusal."""
        permission = PERSONA_SCOPE_PERMISSION[kind]
        if getattr(interaction.permissions, permission):
            return None
        return said(interaction).needs_permission(LABELS[permission])

    @staticmethod
    async def _private(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    # -- /chat --------------------------------------------------------------------------------

    @app_commands.command(name="chat")
    @app_commands.describe(prompt="Your first message to the bot")
    async def chat(
        self, interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 4000]
    ) -> None:
        """Start a new conversation thread with a first prompt."""
        chat = self.bot.get_cog("Chat")
        assert isinstance(chat, Chat)
        user = interaction.user
        await interaction.response.send_message(
            f"**{user.display_name}:** {prompt}"[:2000], allowed_mentions=NO_MENTIONS
        )
        message = await interaction.original_response()
        known = await self.bot.conversations.is_conversation(message.channel.id)
        await chat.take_turn(message, prompt, interaction.user, known=known)

    # -- /reset -------------------------------------------------------------------------------

    @app_commands.command(name="reset")
    async def reset(self, interaction: discord.Interaction) -> None:
        """Forget this conversation's history; the persona stays."""
        conversation = await self._conversation_here(interaction)
        if conversation is None:
            await self._private(interaction, said(interaction).not_a_conversation)
            return
        if not self._may_manage_conversation(interaction, conversation):
            await self._private(
                interaction,
                said(interaction).needs_permission(LABELS["manage_threads"], owner=True),
            )
            return
        if self.bot.replies.busy(conversation.id):  # a reply is being written: it ends first
            await interaction.response.defer()  # (Discord wants an answer within 3 s)
        await self.bot.replies.reset(conversation.id)
        text = said(interaction).reset_done(interaction.user.display_name)
        if interaction.response.is_done():
            await interaction.followup.send(text, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, allowed_mentions=NO_MENTIONS)

    # -- /persona -----------------------------------------------------------------------------

    async def _persona_target(self, interaction: discord.Interaction, scope: Scope) -> str | None:
        """Where a persona change applies ("conversation", "channel" or "server"), if the user
        may make it; otherwise None, after telling them privately why not."""
        kind, refusal = await self._persona_scope(interaction, scope)
        if refusal is not None:
            await self._private(interaction, refusal)
            return None
        return kind

    async def _persona_scope(
        self, interaction: discord.Interaction, scope: Scope
    ) -> tuple[str, str | None]:
        channel = interaction.channel
        if scope == "server":
            if interaction.guild_id is None:
                return "server", said(interaction).server_only
            return "server", self._may_set_default(interaction, "server")
        conversation = await self._conversation_here(interaction)
        if conversation is not None or isinstance(channel, discord.DMChannel):
            if conversation is None:  # a DM without messages yet becomes a conversation
                conversation = await self.bot.conversations.start(
                    interaction.channel_id or 0,
                    guild_id=None,
                    parent_id=None,
                    owner_id=interaction.user.id,
                )
            ok = self._may_manage_conversation(interaction, conversation)
            return "conversation", None if ok else said(interaction).needs_permission(
                LABELS["manage_threads"], owner=True
            )
        if isinstance(channel, discord.Thread):
            return "conversation", said(interaction).not_a_conversation
        return "channel", self._may_set_default(interaction, "channel")

    async def _store_persona(
        self, interaction: discord.Interaction, kind: str, text: str | None
    ) -> None:
        scope_id = interaction.guild_id if kind == "server" else interaction.channel_id
        await self.bot.choices.set_persona(kind, scope_id or 0, text)

    @persona.command(name="set")
    @app_commands.describe(
        text="The persona; leave empty to write a long one in a form",
        scope="here: this conversation, or this channel's new conversations; server: the default",
    )
    async def persona_set(
        self, interaction: discord.Interaction, text: str | None = None, scope: Scope = "here"
    ) -> None:
        """Set the persona (system message) for this conversation, channel or server."""
        kind = await self._persona_target(interaction, scope)
        if kind is None:
            return

        async def apply(inner: discord.Interaction, value: str) -> None:
            value = value.strip()
            if not value:
                await self._private(inner, said(inner).persona_empty)
            elif len(value) > PERSONA_LIMIT:
                await self._private(inner, said(inner).persona_too_long(len(value), PERSONA_LIMIT))
            else:
                await self._store_persona(inner, kind, value)
                await self._private(inner, said(inner).persona_set(kind))

        if text is not None:
            await apply(interaction, text)
            return
        current = await self._effective_persona(interaction)
        await interaction.response.send_modal(PersonaModal(current.value, apply, said(interaction)))

    async def _effective_persona(self, interaction: discord.Interaction) -> Chosen:
        conversation = await self._conversation_here(interaction)
        channel = interaction.channel
        if conversation is not None:
            return await self.bot.choices.persona(conversation)
        channel_id = interaction.channel_id if not isinstance(channel, discord.Thread) else None
        return await self.bot.choices.resolve_persona(
            own=None, channel_id=channel_id, guild_id=interaction.guild_id
        )

    @persona.command(name="show")
    async def persona_show(self, interaction: discord.Interaction) -> None:
        """Show the persona in effect here and where it comes from."""
        persona = await self._effective_persona(interaction)
        await self._private(
            interaction, said(interaction).persona_shown(persona.value, persona.source)
        )

    @persona.command(name="clear")
    @app_commands.describe(scope="here: this conversation or channel; server: the server default")
    async def persona_clear(self, interaction: discord.Interaction, scope: Scope = "here") -> None:
        """Remove a persona, so the next one up (channel, server, built-in) applies."""
        kind = await self._persona_target(interaction, scope)
        if kind is None:
            return
        await self._store_persona(interaction, kind, None)
        await self._private(interaction, said(interaction).persona_cleared(kind))

    # -- /usage -------------------------------------------------------------------------------

    @app_commands.command(name="usage")
    async def usage(self, interaction: discord.Interaction) -> None:
        """Tokens used today and this month, by you and by this server."""
        today = dt.datetime.now(dt.UTC).date()
        month = today.replace(day=1)
        usage, guild_id, user_id = (
            self.bot.conversations.usage,
            interaction.guild_id,
            interaction.user.id,
        )
        rows = [
            ("You, today", await usage(guild_id=guild_id, since=today, user_id=user_id)),
            ("You, this month", await usage(guild_id=guild_id, since=month, user_id=user_id)),
        ]
        if guild_id is not None:
            rows += [
                ("Server, today", await usage(guild_id=guild_id, since=today)),
                ("Server, this month", await usage(guild_id=guild_id, since=month)),
            ]
        await self._private(interaction, said(interaction).usage_table(rows))


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Commands(bot))
