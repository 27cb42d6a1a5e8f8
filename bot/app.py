"""The Discord side of the process: a ``commands.Bot`` that owns the store and the model client.

Resources are built in ``main()`` and handed in; ``setup_hook`` opens them and loads the cogs;
``close()`` closes what was opened.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from . import i18n, texts
from .context import Budget, context_window, is_known_model
from .conversations import Conversations
from .llm import LLMClient
from .pacing import Pacer
from .ratelimit import Limiter, LocalLimiter, scope_of
from .replies import Deps, Replies
from .settings import Settings
from .store import Store, Turn
from .summaries import Summarizer
from .tokens import TokenCounter

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.chat", "cogs.commands")
COMMANDS_DIGEST_KEY = "commands_digest"
SHUTDOWN_GRACE = 5.0  # seconds for running replies to show and store their end on shutdown


class ChatTree(app_commands.CommandTree["ChatBot"]):
    """One error handler for every slash command: log the cause, answer the user privately.
    Every interaction also tells which language the person uses."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        self.client.locales.remember(interaction.user.id, str(interaction.locale))
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error("Slash command /%s failed", command, exc_info=error)
        text = texts.for_locale(str(interaction.locale)).internal_error()
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.warning("Could not tell the user that /%s failed", command)


class CatalogTranslator(app_commands.Translator):
    """Slash command descriptions and option choices in every language of ``bot/locales``.
    Command and option names stay English, the same for everyone (and in help texts)."""

    TRANSLATED = frozenset({
        app_commands.TranslationContextLocation.command_description,
        app_commands.TranslationContextLocation.group_description,
        app_commands.TranslationContextLocation.parameter_description,
        app_commands.TranslationContextLocation.choice_name,
    })  # fmt: skip

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = i18n.language_of(locale.value)
        if context.location not in self.TRANSLATED or language == i18n.DEFAULT:
            return None
        translated = i18n.gettext_for(language)(string.message)
        return translated if translated != string.message else None


def make_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True  # privileged: enable it in the Developer Portal
    return intents


class ChatBot(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        llm: LLMClient,
        limiter: Limiter | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=make_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=ChatTree,
            **options,
        )
        self.settings = settings
        self.store = store
        self.llm = llm
        self.locales = i18n.KnownLocales()
        self.pacer = Pacer()
        self.limiter: Limiter = limiter or LocalLimiter(
            guild_rpm=settings.guild_rpm, guild_tpm=settings.guild_tpm, user_rpm=settings.user_rpm
        )
        # Set in setup_hook, before any cog runs.
        self.counter: TokenCounter
        self.conversations: Conversations
        self.summarizer: Summarizer | None = None
        self.replies: Replies
        self.interrupted_replies: list[Turn] = []
        self._store_open = False

    async def setup_hook(self) -> None:
        self._store_open = True  # closed by close(), even if opening is interrupted
        await self.store.open()
        # Replies a crash left half-shown; the chat cog mends their messages once connected.
        self.interrupted_replies = await self.store.interrupt_streaming_turns()
        if self.interrupted_replies:
            log.info(
                "Marked %d replies cut off by the last shutdown as interrupted",
                len(self.interrupted_replies),
            )
        settings = self.settings
        # Loading a vocabulary takes about a second: keep it off the event loop.
        self.counter = await asyncio.to_thread(TokenCounter.for_model, settings.openai_model)
        if settings.context_tokens is None and not is_known_model(settings.openai_model):
            log.warning(
                "Unknown model %r: assuming a %d-token context window; set CONTEXT_TOKENS",
                settings.openai_model,
                context_window(settings.openai_model),
            )
        budget = Budget(
            window=context_window(settings.openai_model, settings.context_tokens),
            completion=settings.max_completion_tokens,
        )
        self.conversations = Conversations(
            self.store,
            self.counter,
            budget=budget,
            default_persona=settings.system_prompt,
            history_tokens=settings.history_tokens,
            alternate_roles=settings.alternate_roles,
        )
        await self.conversations.recount_if_encoding_changed()
        await self.conversations.load_index()
        complete = (
            functools.partial(self.llm.complete, model=settings.summary_model)
            if settings.summaries
            else None
        )
        self.summarizer = Summarizer(
            self.store, self.counter, complete, max_tokens=settings.summary_tokens,
            charge=lambda guild_id, owner_id, tokens: self.limiter.charge(
                scope_of(guild_id, owner_id), tokens
            ),
        )  # fmt: skip
        self.replies = Replies(
            Deps(
                self.conversations, self.llm, self.limiter, self.pacer, self.summarizer,
                max_completion_tokens=settings.max_completion_tokens,
                cache_keys=settings.sends_prompt_cache_key,
            )
        )  # fmt: skip
        await self.tree.set_translator(CatalogTranslator())
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                log.exception("Could not load extension %s", extension)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Sync slash commands only when their definitions changed: Discord limits syncs.
        With DEV_GUILD_ID they go to that one server, where changes show at once."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        translator = self.tree.translator
        definitions = [
            await command.get_translated_payload(self.tree, translator)
            if translator is not None
            else command.to_dict(self.tree)
            for command in self.tree.get_commands()
        ]
        target = f"guild:{guild.id}" if guild else "global"
        digest = hashlib.sha256(
            json.dumps({"target": target, "commands": definitions}, sort_keys=True).encode()
        ).hexdigest()
        if await self.store.get_meta(COMMANDS_DIGEST_KEY) == digest:
            log.info("Slash commands unchanged; not syncing")
            return
        try:
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException:
            log.exception("Could not sync slash commands; they may be out of date")
            return
        await self.store.set_meta(COMMANDS_DIGEST_KEY, digest)
        log.info("Synced %d slash commands (%s)", len(synced), target)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the chat cog handles messages, so skip command parsing."""

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("Ready as %s (id %s) in %d guilds", self.user, self.user.id, len(self.guilds))

    async def close(self) -> None:
        """Stop taking work and let running replies show their end while Discord is still
        reachable; then disconnect, and close the model client, then the store."""
        try:
            replies: Replies | None = getattr(self, "replies", None)  # set in setup_hook
            if replies is not None:
                await replies.drain(SHUTDOWN_GRACE)
            await super().close()
        finally:
            if self.summarizer is not None:
                await self.summarizer.close()
            await self.llm.close()
            await self.limiter.close()
            if self._store_open:
                self._store_open = False
                await self.store.close()
