"""The Discord side of the process: a ``commands.Bot`` over the process's services.

The services are built in one place (:func:`bot.app.wiring.build_services`) and handed in;
``setup_hook`` opens the store, takes over what a crash left, builds the core over the services
and loads the cogs; ``close()`` drains the replies and closes what was opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.channel_history import ChannelHistory
from bot.app.places import place_of, role_ids_of
from bot.app.rest_gate import trace_config
from bot.app.wiring import Core, Services, build_core
from bot.core import i18n, texts
from bot.core.bounded import TtlCache
from bot.core.policy import Access, Membership, Place
from bot.core.ratelimit import TokenBucket
from bot.core.recovery import Workers, name_for
from bot.core.refusal import Refusal
from bot.core.settings import Settings
from bot.core.shards import syncs_commands
from bot.core.store import Turn
from bot.services.metrics import discord_http_trace, watch_loop_lag
from bot.services.metrics_server import MetricsServer

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.chat", "cogs.commands", "cogs.personas", "cogs.models", "cogs.tools",
              "cogs.voice")  # fmt: skip
COMMANDS_DIGEST_KEY = "commands_digest"
TOOLS_START_WAIT = 10.0  # seconds start-up waits for the MCP servers' first tool lists
SHUTDOWN_GRACE = 5.0  # seconds for running replies to show and store their end on shutdown
MEMBER_TTL = 600.0  # seconds a person's looked-up roles in a server are trusted
MEMBER_CACHE_SIZE = 10_000  # (server, person) look-ups remembered at most
LOOKUPS_PER_MINUTE = 60  # REST member look-ups a minute, for the whole process
LOOKUP_TIMEOUT = 2.0  # seconds for a person's look-ups (interactions want an answer in 3)
NOT_MEMBER: frozenset[int] = frozenset({-1})  # a look-up's answer: not a member there


class MemberLookup:
    """A person's roles in the servers the access lists name, for places outside the bot's
    servers (its DMs, group DMs, servers reached only through /chat). The bot has no members
    intent, so its cache seldom holds them: each is the guild's cached member if there is one,
    else one REST ``fetch_member``, remembered for ``MEMBER_TTL`` (a person writing often costs
    one look-up per server per TTL; bounded in number), within ``LOOKUP_TIMEOUT`` (an
    interaction is answered within 3 s) and at most ``LOOKUPS_PER_MINUTE`` fetches a minute
    for the process, so strangers can't spend the REST budget every server shares. A look-up
    that fails or finds the budget spent is "couldn't check": the person is refused."""

    def __init__(self, bot: ChatBot, clock: Callable[[], float] = time.monotonic) -> None:
        self.bot, self.clock = bot, clock
        # (guild, user) -> their roles there, or NOT_MEMBER
        self.found: TtlCache[tuple[int, int], frozenset[int]] = TtlCache(
            MEMBER_TTL, MEMBER_CACHE_SIZE, clock
        )
        self.budget = TokenBucket.per_minute(LOOKUPS_PER_MINUTE, clock())
        self._places: tuple[float, dict[int, int], frozenset[int]] | None = None
        self._pending: dict[tuple[int, int], asyncio.Future[frozenset[int] | None]] = {}

    def places(self, access: Access) -> tuple[dict[int, int], frozenset[int]]:
        """The server of each listed role, and the servers holding an allowed channel or
        category, from the cache (remembered a minute: servers come and go rarely)."""
        now = self.clock()
        if self._places is None or self._places[0] <= now:
            listed = access.roles | access.blocked_roles
            role_guilds = {
                role: guild.id
                for guild in self.bot.guilds
                for role in listed
                if guild.get_role(role) is not None
            }
            channels = (self.bot.get_channel(c) for c in access.channels)
            channel_guilds = frozenset(
                c.guild.id for c in channels if isinstance(c, discord.abc.GuildChannel)
            )
            self._places = (now + 60.0, role_guilds, channel_guilds)
        return self._places[1], self._places[2]

    async def memberships(
        self, user_id: int, guild_ids: Collection[int]
    ) -> list[Membership] | None:
        """Their roles in each of ``guild_ids`` where they are a member; None if any
        look-up failed."""
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                found = await asyncio.gather(*(self._roles(g, user_id) for g in guild_ids))
        except (TimeoutError, discord.HTTPException) as exc:
            log.info("Could not look up member %s: %s", user_id, exc or "timed out")
            return None
        if any(roles is None for roles in found):
            return None
        return [
            Membership(guild_id, roles)
            for guild_id, roles in zip(guild_ids, found, strict=True)
            if roles is not None and roles is not NOT_MEMBER
        ]

    async def _roles(self, guild_id: int, user_id: int) -> frozenset[int] | None:
        """Their role ids there, NOT_MEMBER, or None when it can't be told now."""
        guild = self.bot.get_guild(guild_id)
        if guild is None or guild.unavailable:
            return NOT_MEMBER if guild is None else None
        member = guild.get_member(user_id)
        if member is not None:
            return frozenset(role.id for role in member.roles)
        known = self.found.get((guild_id, user_id))
        if known is not None:
            return known
        pending = self._pending.get((guild_id, user_id))
        if pending is None:  # one fetch for everyone asking at once, answered in their order
            pending = asyncio.ensure_future(self._fetch(guild, user_id))
            self._pending[(guild_id, user_id)] = pending
            pending.add_done_callback(lambda _: self._pending.pop((guild_id, user_id), None))
        return await asyncio.shield(pending)

    async def _fetch(self, guild: discord.Guild, user_id: int) -> frozenset[int] | None:
        now = self.clock()
        if self.budget.wait(1, now) > 0:
            log.warning(
                "Member look-ups are over %d a minute: refusing for now", LOOKUPS_PER_MINUTE
            )
            return None
        self.budget.take(1, now)
        try:
            member = await guild.fetch_member(user_id)
        except discord.NotFound:
            roles = NOT_MEMBER
        else:
            roles = frozenset(role.id for role in member.roles)
        self.found.put((guild.id, user_id), roles)
        return roles


class ChatTree(app_commands.CommandTree["ChatBot"]):
    """One error handler for every slash command: log the cause, answer the user privately.
    Every interaction also tells which language the person uses."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Remember the person's language; refuse privately whom the access lists refuse."""
        self.client.locales.remember(interaction.user.id, str(interaction.locale))
        place = place_of(interaction.channel, interaction.channel_id or 0, interaction.guild_id)
        refusal = await self.client.refusal_for(interaction.user, place)
        if refusal is None:
            return True
        await interaction.response.send_message(
            texts.for_locale(str(interaction.locale)).refused(refusal), ephemeral=True
        )
        return False

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
    """The bot: discord.py's client over the process's :class:`~bot.app.wiring.Services`
    (``self.services``) and, once set up, the core built on them (``self.core``)."""

    def __init__(self, *, services: Services, **options: Any) -> None:
        # One budget for every REST request, charged as it leaves (resends included); with
        # metrics, the same hook counts Discord's 429s as they arrive.
        trace = trace_config(services.rest_gate)
        if services.metrics.enabled:
            trace.on_request_end.extend(discord_http_trace(services.metrics).on_request_end)
        options.setdefault("http_trace", trace)
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=make_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=ChatTree,
            **options,
        )
        self.services = services
        self.core: Core  # set in setup_hook, before any cog runs
        self.locales = i18n.KnownLocales()
        self.members = MemberLookup(self)
        self.interrupted_replies: list[Turn] = []
        self._store_open = False
        self._sweeping: asyncio.Task[None] | None = None
        self._beating: asyncio.Task[None] | None = None
        self.workers: Workers | None = None
        self._metrics_server: MetricsServer | None = None
        self._loop_lag: asyncio.Task[None] | None = None
        self._frozen = False  # gc.freeze() once, at the first ready

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def refusal_for(self, user: discord.abc.User, place: Place) -> Refusal | None:
        """The operator's access lists for ``user`` here. In the bot's servers, their roles
        there; elsewhere (DMs, group DMs, servers reached only through /chat), their roles
        in the servers the lists name, looked up (:class:`MemberLookup`)."""
        access, guild_id, role_ids = self.settings.access, place.guild_id, role_ids_of(user)
        if guild_id is not None and self.get_guild(guild_id) is not None:
            return access.refusal(
                user_id=user.id, role_ids=role_ids, guild_id=guild_id, places=place.listed_as
            )
        memberships: list[Membership] | None = []
        channel_guilds: frozenset[int] = frozenset()
        if access.looks_up_members and user.id not in access.blocked_users:
            role_guilds, channel_guilds = self.members.places(access)
            guilds = access.guilds_to_look_up(role_guilds, channel_guilds)
            memberships = await self.members.memberships(user.id, sorted(guilds))
        return access.outside_refusal(
            user_id=user.id, memberships=memberships, channel_guilds=channel_guilds,
            guild_id=guild_id, role_ids=role_ids, places=place.listed_as,
        )  # fmt: skip

    async def setup_hook(self) -> None:
        await self._serve_metrics()  # alive (/healthz) while starting, ready once connected
        store = self.services.store
        self._store_open = True  # closed by close(), even if opening is interrupted
        await store.open()
        # Replies a crash left half-shown; the chat cog mends their messages once connected.
        self.workers = Workers(store, name=name_for(self.settings.shard_ids))
        self.interrupted_replies = await self.workers.adopt_orphans(starting=True)
        await self.workers.beat()
        if self.interrupted_replies:
            log.info(
                "Marked %d replies cut off by the last shutdown as interrupted",
                len(self.interrupted_replies),
            )
        builtin = [ChannelHistory(self)] if self.settings.channel_history_tool else []
        self.core = await build_core(
            self.services, post_slot=self.services.rest_gate.paid, builtin_tools=builtin
        )
        await self._start_tools()
        self._sweeping = asyncio.create_task(self.core.privacy.run(), name="retention")
        self.core.conversations.worker = self.workers.name
        self._beating = asyncio.create_task(self.workers.run(), name="heartbeat")
        await self.tree.set_translator(CatalogTranslator())
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                log.exception("Could not load extension %s", extension)
        await self.sync_commands()

    async def _start_tools(self) -> None:
        """With MCP_CONFIG: start its servers, waiting a little for their first tool lists (a
        server that is slower joins when it is up); replies offer their tools from then on."""
        tools = self.services.tools
        if tools is None:
            return
        await tools.start(wait=TOOLS_START_WAIT)
        up = sum(link.connected for link in tools.links.values())
        log.info("MCP servers: %d of %d up at start-up", up, len(tools.links))

    async def _serve_metrics(self) -> None:
        """With METRICS_PORT: serve /metrics, /healthz and /readyz, and watch the loop's lag."""
        if self.settings.metrics_port is None:
            return
        metrics = self.services.metrics
        metrics.watch(queued=self._queued_replies, gateway_up=self.gateway_up)
        self._metrics_server = MetricsServer(
            metrics, port=self.settings.metrics_port, host=self.settings.metrics_host,
            gateway_up=self.gateway_up,
            store_answers=lambda: self.services.store.get_meta(COMMANDS_DIGEST_KEY),
        )  # fmt: skip
        await self._metrics_server.start()
        self._loop_lag = asyncio.create_task(watch_loop_lag(metrics), name="loop-lag")

    def gateway_up(self) -> bool:
        """Connected to Discord's gateway with a ready session (False while reconnecting)."""
        return self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open

    def _queued_replies(self) -> int:
        core: Core | None = getattr(self, "core", None)  # set in setup_hook
        return core.replies.waiting_replies() if core is not None else 0

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """With Redis, IDENTIFYs are spaced across every process of the bot; else as usual."""
        gate = self.services.identify_gate
        if gate is None or shard_id is None:
            await super().before_identify_hook(shard_id, initial=initial)
            return
        await gate.wait(shard_id)

    async def sync_commands(self) -> None:
        """Sync slash commands only when their definitions changed: Discord limits syncs.
        With DEV_GUILD_ID they go to that one server, where changes show at once. Of several
        processes, only the one with shard 0 syncs."""
        if not syncs_commands(self.settings.shard_ids):
            return
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
        if await self.services.store.get_meta(COMMANDS_DIGEST_KEY) == digest:
            log.info("Slash commands unchanged; not syncing")
            return
        try:
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException:
            log.exception("Could not sync slash commands; they may be out of date")
            return
        await self.services.store.set_meta(COMMANDS_DIGEST_KEY, digest)
        log.info("Synced %d slash commands (%s)", len(synced), target)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the chat cog handles messages, so skip command parsing."""

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("Ready as %s (id %s) in %d guilds", self.user, self.user.id, len(self.guilds))
        if not self._frozen:
            # What exists now (libraries, the model's vocabulary, the guild cache) lives as
            # long as the process: leave it out of every later garbage collection. A full
            # collection otherwise walks it all, about 75 ms, twice in the first second of
            # 200 mentions at once (bench/streaming.py).
            self._frozen = True
            gc.collect()
            gc.freeze()

    async def close(self) -> None:
        """Stop taking work and let running replies show their end while Discord is still
        reachable; then disconnect, and close the services: the model client and Redis, then
        the store."""
        core: Core | None = getattr(self, "core", None)  # set in setup_hook
        try:
            if core is not None:
                await core.replies.drain(SHUTDOWN_GRACE)
            await super().close()
        finally:
            if self._loop_lag is not None:
                self._loop_lag.cancel()
                await asyncio.wait({self._loop_lag})
            if self._metrics_server is not None:
                await self._metrics_server.close()
            for task in (self._sweeping, self._beating):
                if task is not None:
                    task.cancel()
            if self.workers is not None and self._store_open:
                with contextlib.suppress(Exception):  # its replies ended with the drain
                    await self.workers.retire()
            if core is not None:
                await core.summarizer.close()
            await self.services.close()
            if self._store_open:
                self._store_open = False
                await self.services.store.close()


class ShardedChatBot(ChatBot, commands.AutoShardedBot):
    """The same bot over ``SHARD_IDS`` of ``SHARD_COUNT`` gateway shards in this process."""
