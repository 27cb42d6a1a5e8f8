"""The core services of one process, built from the settings: tokenizer, models, choices,
conversations, summaries and replies. Kept apart from the discord.py bot that hosts them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from .choices import Choices
from .context import context_window, is_known_model
from .conversations import Conversations
from .llm import LLMClient
from .metrics import NO_METRICS, Metrics
from .models import Models, Price
from .pacing import Pacer
from .privacy import Privacy
from .ratelimit import Limiter, scope_of
from .replies import Deps, Replies
from .settings import Settings
from .store import Store
from .summaries import Summarizer
from .tokens import TokenCounter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Core:
    counter: TokenCounter  # the default model's, which stored token counts use
    models: Models
    choices: Choices
    conversations: Conversations
    summarizer: Summarizer
    replies: Replies
    privacy: Privacy


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
    if settings.context_tokens is None and not is_known_model(default):
        log.warning(
            "Unknown model %r: assuming a %d-token context window; set CONTEXT_TOKENS",
            default, context_window(default),
        )  # fmt: skip
    models = Models(
        default=default, context_tokens=settings.context_tokens,
        completion_tokens=settings.completion_tokens, choices=settings.models,
        vision=settings.vision_models,
        prices={name: Price(prompt, completion) for name, prompt, completion in settings.model_prices},
        list_names=llm.model_names,
    )  # fmt: skip
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
    )  # fmt: skip
    choices = Choices(store, default_persona=settings.system_prompt, default_model=default)
    replies = Replies(
        Deps(
            conversations, choices, models, llm, limiter, pacer, summarizer,
            cache_keys=settings.sends_prompt_cache_key, metrics=metrics, post_slot=post_slot,
        )
    )  # fmt: skip
    privacy = Privacy(
        store, conversations.index, retention_days=settings.retention_days,
        guild_data_days=settings.guild_data_days,
    )  # fmt: skip
    return Core(counter, models, choices, conversations, summarizer, replies, privacy)
