"""Everything one process runs on, built from the settings in this one module: the resources
(:class:`Services`: the store, the model client, ONE Redis client shared by all that use
Redis, the limiter, the REST budget and gate, the IDENTIFY gate, metrics), then, once the store
is open, the core over them (:class:`Core`: tokenizer, models, choices, conversations,
summaries, replies, privacy). The discord.py bot that hosts them holds these two objects and
copies nothing out of them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core.audio import Listener, Meter
from bot.core.catalog import FALLBACK_WINDOW, family
from bot.core.choices import Choices
from bot.core.conversations import Conversations
from bot.core.llm import Usage
from bot.core.metrics import Metrics
from bot.core.models import Models, Price
from bot.core.pacing import Pacer
from bot.core.privacy import Privacy
from bot.core.ratelimit import Limiter, Spending, scope_of
from bot.core.ratelimit.spending import Kind
from bot.core.replies import Deps, Replies
from bot.core.rest_budget import Gate, LocalBudget
from bot.core.settings import Settings
from bot.core.store import Store
from bot.core.summaries import Summarizer
from bot.core.tokens import TokenCounter
from bot.core.toolbox import Toolbox
from bot.core.tools import ToolHost
from bot.services.identify_gate import IdentifyGate
from bot.services.llm import LLMClient
from bot.services.mcp import McpHost
from bot.services.metrics import metrics_for
from bot.services.ratelimit import limiter_for, spending_for
from bot.services.redis_client import redis_client
from bot.services.redis_rest_budget import RedisRestBudget
from bot.services.speech import Speech
from bot.services.store import store_from_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

EPOCH = dt.date(1970, 1, 1)  # UTC day numbers (bot.core.ratelimit.spending.day_of) count from it


@dataclass(frozen=True, slots=True)
class Services:
    """The resources of one process. Nothing is opened or connected when it is built; the bot
    opens the store in its ``setup_hook`` and :meth:`close` releases the rest, once each."""

    settings: Settings
    store: Store
    llm: LLMClient
    metrics: Metrics
    redis: Redis | None  # the one client of everything that uses Redis (REDIS_URL set)
    limiter: Limiter
    pacer: Pacer  # this process's share of Discord's REST budget
    rest_budget: RedisRestBudget | None  # that budget shared through Redis
    rest_gate: Gate  # where every Discord REST request waits for its slot
    identify_gate: IdentifyGate | None  # IDENTIFYs spaced across processes (shards, Redis)
    tools: McpHost | None = None  # the MCP servers of MCP_CONFIG
    speech: Speech | None = None  # transcription and speech (TRANSCRIBE_MODEL, TTS_MODEL)

    async def close(self) -> None:
        """The model client, then the Redis client that the limiter, the spending budgets,
        the REST budget and the IDENTIFY gate share. (The store is the bot's to close: it
        knows whether it was opened.) The MCP servers first: they may be mid-call."""
        if self.tools is not None:
            await self.tools.close()
        await self.llm.close()
        if self.redis is not None:
            await self.redis.aclose()
        else:
            await self.limiter.close()


def build_services(settings: Settings) -> Services:
    """The one place that makes a process's resources from its settings."""
    llm = LLMClient.create(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        is_openai=settings.is_openai,
        token_parameter=settings.token_parameter,
        reasoning_effort=settings.reasoning_effort,
    )
    redis = redis_client(settings.redis_url) if settings.redis_url else None
    pacer = Pacer(rate=settings.discord_rest_rate)
    # With Redis, every process of the bot draws from one REST budget (Discord counts per token).
    rest_budget = (
        RedisRestBudget(redis, pacer, prefix=settings.redis_prefix) if redis is not None else None
    )
    identify_gate = (
        IdentifyGate(redis, prefix=settings.redis_prefix, concurrency=settings.identify_concurrency)
        if redis is not None and settings.shard_count
        else None
    )
    return Services(
        settings=settings,
        store=store_from_url(settings.database_url, pool_size=settings.database_pool_size),
        llm=llm,
        metrics=metrics_for(settings.metrics_port),
        redis=redis,
        limiter=limiter_for(settings, redis),
        pacer=pacer,
        rest_budget=rest_budget,
        rest_gate=Gate(rest_budget or LocalBudget(pacer)),
        identify_gate=identify_gate,
        tools=McpHost(settings.mcp) if settings.mcp is not None and settings.mcp.running else None,
        speech=_speech(settings, llm),
    )


def _speech(settings: Settings, llm: LLMClient) -> Speech | None:
    """Transcription and speech, when TRANSCRIBE_MODEL or TTS_MODEL is set: on the chat API's
    client, or on AUDIO_BASE_URL's."""
    if settings.transcribe_model is None and settings.tts_model is None:
        return None
    return Speech.on(
        llm.client, model=settings.transcribe_model, base_url=settings.audio_base_url,
        api_key=settings.audio_api_key, tts_model=settings.tts_model, voice=settings.tts_voice,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Core:
    counter: TokenCounter  # the default model's, which stored token counts use
    models: Models
    choices: Choices
    conversations: Conversations
    summarizer: Summarizer
    replies: Replies
    privacy: Privacy
    spending: Spending | None = None  # the daily budgets in money, when set
    toolbox: Toolbox = field(default_factory=lambda: Toolbox(()))  # the tools replies offer
    listener: Listener = field(default_factory=Listener)  # reads and makes recordings, bounded
    meter: Meter | None = None  # speech through the limits and budgets


async def build_core(
    services: Services,
    post_slot: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext,
    builtin_tools: Sequence[ToolHost] = (),
) -> Core:
    """Everything the chat cog and the commands call, over the services' open store;
    ``builtin_tools``: the bot's own tools (they need the Discord client), offered before the
    MCP servers'."""
    settings, store, llm, limiter = (
        services.settings,
        services.store,
        services.llm,
        services.limiter,
    )
    pacer, metrics = services.pacer, services.metrics
    default = settings.openai_model
    # Loading a vocabulary takes about a second: keep it off the event loop.
    counter = await asyncio.to_thread(TokenCounter.for_model, default)
    if settings.context_tokens is None and family(default).window is None:
        log.warning(
            "Unknown model %r: assuming a %d-token context window; set CONTEXT_TOKENS",
            default, FALLBACK_WINDOW,
        )  # fmt: skip
    prices = {name: Price(prompt, completion) for name, prompt, completion in settings.model_prices}
    models = Models(
        default=default, context_tokens=settings.context_tokens,
        completion_tokens=settings.completion_tokens, choices=settings.models,
        open_to_all=settings.open_models, vision=settings.vision_models, prices=prices,
        list_names=llm.model_names,
    )  # fmt: skip
    spending = _spending(settings, store, limiter, models, prices)
    conversations = Conversations(
        store, counter, budget=models.add(default, counter).budget,
        history_tokens=settings.history_tokens, alternate_roles=settings.alternate_roles,
    )  # fmt: skip
    await conversations.recount_if_encoding_changed()
    await conversations.load_index()
    complete = (
        functools.partial(llm.complete, model=settings.summary_model)
        if settings.summaries
        else None
    )
    summarizer = Summarizer(
        store, counter, complete, max_tokens=settings.summary_tokens,
        charge=lambda guild_id, owner_id, tokens: limiter.charge(
            scope_of(guild_id, owner_id), tokens
        ),
        price=prices.get(settings.summary_model or default),
        spend=spending.charge if spending is not None else None,
    )  # fmt: skip
    choices = Choices(store, default_persona=settings.system_prompt, models=models)
    hosts = [*builtin_tools, *([services.tools] if services.tools is not None else [])]
    toolbox = Toolbox(hosts, switches=choices.tool_switches)
    replies = Replies(
        Deps(
            conversations, choices, models, llm, limiter, pacer, summarizer,
            cache_keys=settings.sends_prompt_cache_key, metrics=metrics, post_slot=post_slot,
            spending=spending, tools=toolbox if toolbox else None,
            audio_max_seconds=settings.audio_max_seconds, speaks=settings.tts_model is not None,
        )
    )  # fmt: skip
    privacy = Privacy(
        store, conversations.index, retention_days=settings.retention_days,
        guild_data_days=settings.guild_data_days,
    )  # fmt: skip

    async def record(guild_id: int | None, user_id: int, cost: float) -> None:
        await conversations.record_usage(
            guild_id=guild_id, user_id=user_id, day=dt.datetime.now(dt.UTC).date(),
            usage=Usage(0, 0), cost=cost,
        )  # fmt: skip

    meter = Meter(limiter, spending, settings.speech_prices, record)
    return Core(
        counter, models, choices, conversations, summarizer, replies, privacy, spending, toolbox,
        meter=meter,
    )  # fmt: skip


def _spending(
    settings: Settings, store: Store, limiter: Limiter, models: Models, prices: dict[str, Price]
) -> Spending | None:
    """The daily budgets in money, and one line at start-up saying how they apply."""

    async def seed(kind: Kind, number: int, day: int) -> float:
        """What the store says was spent that day by a server, or by a person anywhere."""
        date = EPOCH + dt.timedelta(days=day)
        if kind == "server":
            return (await store.usage(guild_id=number, since=date)).cost
        return await store.spent_by(user_id=number, day=date)

    spending = spending_for(settings, limiter, seed)
    if spending is None:
        return None
    unpriced = [name for name in models.allowed if name not in prices]
    summary = settings.summary_model or settings.openai_model
    log.info(
        "Daily spending budgets: %s per person, %s per server (US dollars, UTC days)%s%s",
        _dollars(settings.user_daily_budget), _dollars(settings.guild_daily_budget),
        f"; no price in MODEL_PRICES for {', '.join(unpriced)}: refused while a budget is set"
        if unpriced else "",
        f"; summaries by {summary} count $0 (no price)"
        if settings.summaries and summary not in prices else "",
    )  # fmt: skip
    return spending


def _dollars(budget: float | None) -> str:
    return "none" if budget is None else f"${budget:,.2f}"
