"""Slash commands: /chat, /reset, /leave, /forget, /usage.

Every answer about settings is ephemeral; refusals name the permission that is needed. Slash
commands work without the Message Content intent.

Installs and contexts: the app may be installed to a server or to a person's account. Every
command but /leave works in both, in servers, the bot's DM and other DMs and group DMs:
/chat there answers through the interaction (cogs/chat/interaction.py); /reset and
/persona|model set and clear act on that place's conversation (its starter); /forget, /usage and
the show commands concern the person or the place. /leave stops the bot listening in a thread,
and in a place reached only through /chat it never listens, so it stays with server installs.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.places import flags_of, place_of
from bot.core import policy, texts
from bot.core.discord_limits import MESSAGE_LIMIT, USER_MESSAGE_LIMIT
from bot.core.replies import Said
from cogs.chat.cog import ChatEvents
from cogs.chat.interaction import Presence, bot_absent, chat_by_interaction, presence
from cogs.chat.surface import NO_MENTIONS
from cogs.scopes import everywhere, managed_conversation, private, said

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

log = logging.getLogger(__name__)


class ForgetView(discord.ui.View):
    """/forget asks first: deleting is final."""

    def __init__(self, bot: ChatBot, user_id: int, words: texts.Texts) -> None:
        super().__init__(timeout=300)
        self.bot, self.user_id = bot, user_id
        self.confirm.label, self.cancel.label = words.forget_button, words.cancel_button

    @discord.ui.button(style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        user = interaction.user  # their names find what they said before author ids were kept
        names = (user.name, user.global_name or "", user.display_name)
        deleted = await self.bot.core.privacy.forget_user(self.user_id, names)
        await interaction.response.edit_message(
            content=said(interaction).forgotten(deleted), view=None
        )
        self.stop()

    @discord.ui.button(style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await interaction.response.edit_message(
            content=said(interaction).forget_cancelled, view=None
        )
        self.stop()


class ChatCommands(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    # -- /chat --------------------------------------------------------------------------------

    @app_commands.command(name="chat")
    @everywhere
    @app_commands.describe(prompt="Your first message to the bot")
    async def chat(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, USER_MESSAGE_LIMIT],
    ) -> None:
        """Start a new conversation thread with a first prompt."""
        chat = self.bot.get_cog("ChatEvents")
        assert isinstance(chat, ChatEvents)
        words = said(interaction)
        where = presence(self.bot, interaction)
        if where is Presence.UNKNOWN:  # a server the bot is in but can't see yet
            await private(interaction, words.guild_unknown)
            return
        absent = where is Presence.ABSENT
        place = place_of(
            interaction.channel, interaction.channel_id or 0, interaction.guild_id, absent=absent
        )
        lacking = policy.chat_refusal(place, flags_of(interaction.permissions))
        if lacking is not None:  # the bot never posts for someone the channel won't let post
            await private(interaction, words.needs_permission(policy.LABELS[lacking]))
            return
        user = interaction.user
        known = await self.bot.core.conversations.has_one(place)
        if not known:  # the limits before anything is opened (a known one's reply waits)
            guild_id = None if absent else interaction.guild_id
            limited = await chat.opening_limited(guild_id, user.id)
            if limited is not None:
                await private(interaction, words.rate_limited(limited.limit, limited.wait))
                return
        if absent:  # only the interaction reaches this place
            await chat_by_interaction(self.bot, interaction, prompt)
            return
        await interaction.response.send_message(
            f"**{user.display_name}:** {prompt}"[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS
        )
        message = await interaction.original_response()
        # The caller asks, with their own permissions (the echo is the bot's message).
        await chat.take_turn(
            message, Said(prompt), user, known=known,
            manage_threads=interaction.permissions.manage_threads,
        )  # fmt: skip

    # -- /leave -------------------------------------------------------------------------------

    @app_commands.command(name="leave")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    async def leave(self, interaction: discord.Interaction) -> None:
        """Stop listening in this conversation and forget it."""
        conversation = await managed_conversation(self.bot, interaction)
        if conversation is None:
            return
        await self.bot.core.privacy.conversation_deleted(conversation.id)
        await interaction.response.send_message(
            said(interaction).left, allowed_mentions=NO_MENTIONS
        )

    # -- /reset -------------------------------------------------------------------------------

    @app_commands.command(name="reset")
    @everywhere
    async def reset(self, interaction: discord.Interaction) -> None:
        """Forget this conversation's history; the persona stays."""
        conversation = await managed_conversation(self.bot, interaction)
        if conversation is None:
            return
        if self.bot.core.replies.busy(conversation.id):  # a reply is being written: it ends first
            await interaction.response.defer()  # (Discord wants an answer within 3 s)
        await self.bot.core.replies.reset(conversation.id)
        text = said(interaction).reset_done(interaction.user.display_name)
        if interaction.response.is_done():
            await interaction.followup.send(text, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, allowed_mentions=NO_MENTIONS)

    # -- /forget ------------------------------------------------------------------------------

    @app_commands.command(name="forget")
    @everywhere
    async def forget(self, interaction: discord.Interaction) -> None:
        """Delete everything the bot stored from you."""
        words = said(interaction)
        await interaction.response.send_message(
            words.forget_confirm, view=ForgetView(self.bot, interaction.user.id, words),
            ephemeral=True,
        )  # fmt: skip

    # -- /usage -------------------------------------------------------------------------------

    @app_commands.command(name="usage")
    @everywhere
    async def usage(self, interaction: discord.Interaction) -> None:
        """Tokens used today and this month, by you and by this server."""
        today = dt.datetime.now(dt.UTC).date()
        month = today.replace(day=1)
        usage, user_id = self.bot.core.conversations.usage, interaction.user.id
        # Where the bot is absent, what is used there is the person's own (no server's).
        guild_id = None if bot_absent(self.bot, interaction) else interaction.guild_id
        rows = [
            ("You, today", await usage(guild_id=guild_id, since=today, user_id=user_id)),
            ("You, this month", await usage(guild_id=guild_id, since=month, user_id=user_id)),
        ]
        if guild_id is not None:
            rows += [
                ("Server, today", await usage(guild_id=guild_id, since=today)),
                ("Server, this month", await usage(guild_id=guild_id, since=month)),
            ]
        text = said(interaction).usage_table(rows)
        spending = self.bot.core.replies.deps.spending
        if spending is not None:  # the daily budgets: today's spend, as they count it
            user, server = await spending.spent(user_id, guild_id)
            text += "\n" + said(interaction).spend_today(
                user, spending.user_budget,
                server if guild_id is not None else None, spending.guild_budget,
            )  # fmt: skip
        await private(interaction, text)


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(ChatCommands(bot))
