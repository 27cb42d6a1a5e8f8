"""The core services of one process, built from the settings: tokenizer, models, choices,
conversations, summaries and replies. Kept apart from the discord.py bot that hosts them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from bot.core.catalog import FALLBACK_WINDOW, family
from bot.core.choices import Choices
from bot.core.conversations import Conversations
from bot.core.metrics import NO_METRICS, Metrics
from bot.core.models import Models, Price
from bot.core.pacing import Pacer
from bot.core.privacy import Privacy
from bot.core.ratelimit import Limiter, Spending, scope_of
from bot.core.ratelimit.spending import Kind
from bot.core.replies import Deps, Replies
from bot.core.settings import Settings
from bot.core.store import Store
from bot.core.summaries import Summarizer
from bot.core.tokens import TokenCounter
from bot.services.llm import LLMClient
from bot.services.ratelimit import spending_for

log = logging.getLogger(__name__)

EPOCH = dt.date(1970, 1, 1)  # UTC day numbers (bot.core.ratelimit.spending.day_of) count from it


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


async def build_core(
    settings: Settings,
    store: Store,
    llm: LLMClient,
    limiter: Limiter,
    pacer: Pacer,
    metrics: Metrics = NO_METRICS,
    post_slot: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext,
) -> Core:
    """Everything the chat cog and the commands call, over an open store."""
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
    replies = Replies(
        Deps(
            conversations, choices, models, llm, limiter, pacer, summarizer,
            cache_keys=settings.sends_prompt_cache_key, metrics=metrics, post_slot=post_slot,
            spending=spending,
        )
    )  # fmt: skip
    privacy = Privacy(
        store, conversations.index, retention_days=settings.retention_days,
        guild_data_days=settings.guild_data_days,
    )  # fmt: skip
    return Core(counter, models, choices, conversations, summarizer, replies, privacy, spending)


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
