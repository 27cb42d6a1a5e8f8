"""What slash commands share: answers in the person's language, privately, and where a
per-scope choice (a persona, a model) applies and whether this person may make it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeVar

import discord
from discord import app_commands

from bot.app.places import flags_of, place_of
from bot.core import policy, texts
from bot.core.conversations import where_to_start
from bot.core.refusal import Refusal
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
    return await bot.core.conversations.get(channel_id) if channel_id else None


async def chosen_here(bot: ChatBot, interaction: discord.Interaction) -> tuple[Chosen, Chosen]:
    """The persona and the model in effect where the command was used."""
    conversation = await conversation_here(bot, interaction)
    if conversation is not None:
        return await bot.core.choices.for_conversation(conversation)
    channel_id, guild_id = here(bot, interaction)
    return await bot.core.choices.for_place(channel_id=channel_id, guild_id=guild_id)


def place_here(bot: ChatBot, interaction: discord.Interaction) -> policy.Place:
    """Where the command was used, for the policy (with whether the bot is absent there)."""
    return place_of(
        interaction.channel, interaction.channel_id or 0, interaction.guild_id,
        absent=bot_absent(bot, interaction),
    )  # fmt: skip


def may_manage(interaction: discord.Interaction, conversation: Conversation) -> bool:
    return policy.may_manage_conversation(
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
        await private(interaction, refusal_text(said(interaction), "manage_threads", owner=True))
        conversation = None
    return conversation


def refusal_text(words: texts.Texts, refused: Refusal | str, *, owner: bool = False) -> str:
    """What to tell someone a choice or command is refused for (:class:`policy.Target`)."""
    reasons = {
        Refusal.SERVER_ONLY: words.server_only,
        Refusal.NOT_IN_SERVER: words.not_in_server,
        Refusal.NOT_A_CONVERSATION: words.not_a_conversation,
    }
    if refused in reasons:
        return reasons[refused]
    return words.needs_permission(policy.LABELS[refused], owner=owner)


async def target(
    bot: ChatBot, interaction: discord.Interaction, option: ScopeOption
) -> Scope | None:
    """Where a choice applies, if the user may make it; otherwise None, after telling them
    privately why not. A conversation a choice applies
    to is started first where there is none yet (a DM, a place reached only through /chat)."""
    place = place_here(bot, interaction)
    conversation = await conversation_here(bot, interaction) if option != "server" else None
    decided = policy.choice_target(
        option, place, user_id=interaction.user.id,
        owner_id=conversation.owner_id if conversation is not None else None,
        flags=flags_of(interaction.permissions),
    )  # fmt: skip
    if decided.refused is not None:
        owner = decided.scope is Scope.CONVERSATION
        await private(interaction, refusal_text(said(interaction), decided.refused, owner=owner))
        return None
    if decided.scope is Scope.CONVERSATION and conversation is None:
        start = where_to_start(place, interaction.user.id)  # a DM's, or a place's for /chat
        assert start is not None
        await bot.core.conversations.start(start)
    return decided.scope


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
