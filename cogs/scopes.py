"""What slash commands share: answers in the person's language, privately, and where a
per-scope choice (a persona, a model) applies and whether this person may make it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeVar

import discord
from discord import app_commands

from bot.core import texts
from bot.core.permissions import LABELS, PERSONA_SCOPE_PERMISSION, may_manage_conversation
from bot.core.store import Conversation, Scope
from cogs.chat.interaction import bot_absent
from cogs.chat.surface import NO_MENTIONS

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot
    from bot.core.choices import Chosen

# The ``scope`` option of every command that sets or clears a choice: the words people pick
# (synced to Discord), not a Scope: :func:`target` finds the Scope "here" means where it is used.
ScopeOption = Literal["here", "server"]
# The option's description.
SET_SCOPE = "here: this conversation, or this channel's new conversations; server: the default"
CLEAR_SCOPE = "here: this conversation or channel; server: the server default"
T = TypeVar("T")

# A command installed to servers and to people's accounts, usable in servers, in the bot's DM,
# and in other DMs and group DMs (through the app a person installed).
EVERY_INSTALL = app_commands.AppInstallationType(guild=True, user=True)
EVERYWHERE = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)


def everywhere(command: T) -> T:
    """Declare ``command`` for :data:`EVERY_INSTALL` in :data:`EVERYWHERE` (the synced
    ``integration_types`` and ``contexts``)."""
    command = app_commands.allowed_installs(guilds=True, users=True)(command)
    return app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(command)


def said(interaction: discord.Interaction) -> texts.Texts:
    """Answers in the language of the person's Discord client."""
    return texts.for_locale(str(interaction.locale))


async def private(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def conversation_here(bot: ChatBot, interaction: discord.Interaction) -> Conversation | None:
    channel_id = interaction.channel_id
    return await bot.conversations.get(channel_id) if channel_id else None


async def chosen_here(bot: ChatBot, interaction: discord.Interaction) -> tuple[Chosen, Chosen]:
    """The persona and the model in effect where the command was used."""
    conversation = await conversation_here(bot, interaction)
    if conversation is not None:
        return await bot.choices.for_conversation(conversation)
    channel_id, guild_id = here(bot, interaction)
    return await bot.choices.for_place(channel_id=channel_id, guild_id=guild_id)


def may_manage(interaction: discord.Interaction, conversation: Conversation) -> bool:
    return may_manage_conversation(
        interaction.user.id, conversation.owner_id,
        manage_threads=interaction.permissions.manage_threads,
    )  # fmt: skip


async def managed_conversation(
    bot: ChatBot, interaction: discord.Interaction
) -> Conversation | None:
    """The conversation here, if this person may manage it (/reset, /leave); otherwise None,
    after telling them privately why not."""
    conversation = await conversation_here(bot, interaction)
    if conversation is None:
        await private(interaction, said(interaction).not_a_conversation)
    elif not may_manage(interaction, conversation):
        await private(
            interaction, said(interaction).needs_permission(LABELS["manage_threads"], owner=True)
        )
        conversation = None
    return conversation


def _may_set_default(interaction: discord.Interaction, scope: Scope) -> str | None:
    """None if the user may set ``scope``'s default (CHANNEL or GUILD); else the refusal."""
    permission = PERSONA_SCOPE_PERMISSION[scope]
    if getattr(interaction.permissions, permission):
        return None
    return said(interaction).needs_permission(LABELS[permission])


async def _scope(
    bot: ChatBot, interaction: discord.Interaction, option: ScopeOption
) -> tuple[Scope, str | None]:
    channel = interaction.channel
    absent = bot_absent(bot, interaction)  # only /chat reaches here: its conversation alone
    if option == "server":
        if interaction.guild_id is None:
            return Scope.GUILD, said(interaction).server_only
        if absent:
            return Scope.GUILD, said(interaction).not_in_server
        return Scope.GUILD, _may_set_default(interaction, Scope.GUILD)
    conversation = await conversation_here(bot, interaction)
    if conversation is not None or absent or isinstance(channel, discord.DMChannel):
        if conversation is None:  # a DM (or a place for /chat) without one yet: it starts
            conversation = await bot.conversations.start(
                interaction.channel_id or 0, guild_id=None, parent_id=None,
                owner_id=interaction.user.id, via_interaction=absent,  # never listened there
            )  # fmt: skip
        if may_manage(interaction, conversation):
            return Scope.CONVERSATION, None
        return Scope.CONVERSATION, said(interaction).needs_permission(
            LABELS["manage_threads"], owner=True
        )
    if isinstance(channel, discord.Thread):
        return Scope.CONVERSATION, said(interaction).not_a_conversation
    return Scope.CHANNEL, _may_set_default(interaction, Scope.CHANNEL)


async def target(
    bot: ChatBot, interaction: discord.Interaction, option: ScopeOption
) -> Scope | None:
    """Where a choice applies, if the user may make it; otherwise None, after telling them
    privately why not."""
    scope, refusal = await _scope(bot, interaction, option)
    if refusal is not None:
        await private(interaction, refusal)
        return None
    return scope


def scope_id(interaction: discord.Interaction, scope: Scope) -> int:
    """The id a choice for ``scope`` is stored under."""
    return (interaction.guild_id if scope is Scope.GUILD else interaction.channel_id) or 0


def here(bot: ChatBot, interaction: discord.Interaction) -> tuple[int | None, int | None]:
    """The channel whose defaults apply here (none inside a thread that isn't a conversation),
    and the server; neither where the bot is absent (its conversations there belong to none)."""
    if bot_absent(bot, interaction):
        return None, None
    channel = interaction.channel
    channel_id = interaction.channel_id if not isinstance(channel, discord.Thread) else None
    return channel_id, interaction.guild_id
