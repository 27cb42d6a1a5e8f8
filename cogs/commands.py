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
from bot.core import attachments, policy, texts
from bot.core.discord_limits import MESSAGE_LIMIT, USER_MESSAGE_LIMIT
from bot.core.replies import Said
from cogs.chat.cog import ChatEvents
from cogs.chat.interaction import Presence, bot_absent, chat_by_interaction, presence
from cogs.chat.surface import NO_MENTIONS
from cogs.personas import FORM_TIMEOUT
from cogs.scopes import EVERY_INSTALL, EVERYWHERE, everywhere, managed_conversation, private, said

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


class AskModal(discord.ui.Modal):
    """The question about a message (Ask about this). Only who opened it can submit it: the
    form is theirs alone (Discord shows it to them only)."""

    def __init__(self, cog: ChatCommands, message: discord.Message, words: texts.Texts) -> None:
        super().__init__(title=words.ask_title, timeout=FORM_TIMEOUT)
        self.cog, self.message = cog, message
        self.question = discord.ui.TextInput(
            label=words.ask_label, style=discord.TextStyle.paragraph,
            max_length=USER_MESSAGE_LIMIT // 2, custom_id="question",
        )  # fmt: skip
        self.add_item(self.question)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        chat = self.cog.bot.get_cog("ChatEvents")
        assert isinstance(chat, ChatEvents)
        target, question = self.message, self.question.value.strip()
        quoted = await chat.reader.said(target)  # its text, images, recordings heard
        text = attachments.asking_about(target.author.display_name, quoted.text, question)
        user, words = interaction.user, said(interaction)
        echo = words.asked_about(user.display_name, target.jump_url, question)
        await self.cog.start_chat(interaction, echo, Said(text, quoted.images, quoted.heard))


class ChatCommands(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        self.ask_menu = app_commands.ContextMenu(
            name="Ask about this", callback=self.ask_about,
            allowed_installs=EVERY_INSTALL, allowed_contexts=EVERYWHERE,
        )  # fmt: skip

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.ask_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.ask_menu.name, type=self.ask_menu.type)

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
        user = interaction.user
        await self.start_chat(interaction, f"**{user.display_name}:** {prompt}", Said(prompt))

    async def start_chat(self, interaction: discord.Interaction, echo: str, asked: Said) -> None:
        """A conversation begun by an interaction (/chat, Ask about this): ``echo`` shown as
        the interaction's response, ``asked`` the first turn, as a mention would begin one."""
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
            await chat_by_interaction(self.bot, interaction, asked.text, echo=echo)
            return
        await interaction.response.send_message(echo[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS)
        message = await interaction.original_response()
        # The caller asks, with their own permissions (the echo is the bot's message).
        await chat.take_turn(
            message, asked, user, known=known,
            manage_threads=interaction.permissions.manage_threads,
        )  # fmt: skip

    # -- Ask about this (a message's context menu) ---------------------------------------------

    async def ask_about(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """A message's context menu: a form for the question, then a conversation that
        begins with that message quoted (its text, images, forwards, recordings heard)."""
        await interaction.response.send_modal(AskModal(self, message, said(interaction)))

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
