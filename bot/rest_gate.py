"""Every Discord REST request, through one budget: an ``aiohttp`` trace hook that waits for a
:class:`~bot.pacing.Pacer` slot before each request leaves, discord.py's own resends included.

Charging where requests leave, not where the bot asks for them, matters: discord.py queues a
request behind its per-route limit and resends after a 429 or 5xx, so slots granted earlier can
pile up into one second. Priority is the caller's to say, through :data:`PRIORITY` (a context
variable, so it follows a request into discord.py's call): first posts, final edits, thread
creation and notices queue for a slot (the default); progress edits and typing indicators
(``PRIORITY`` false) wait without using the reserve. Interaction callbacks and webhooks are
exempt from Discord's global limit, and so is anything that is not the REST API (the gateway,
the CDN).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from types import SimpleNamespace
from typing import Protocol

import aiohttp

from .pacing import Pacer

PRIORITY: ContextVar[bool] = ContextVar("discord_rest_priority", default=True)
EXEMPT = ("/interactions/", "/webhooks/")


def charged(path: str) -> bool:
    """Requests that count towards Discord's global limit."""
    return path.startswith("/api/") and not any(part in path for part in EXEMPT)


@contextlib.contextmanager
def low_priority() -> Iterator[None]:
    """Requests made in this block (and tasks started in it) may wait behind others."""
    token = PRIORITY.set(False)
    try:
        yield
    finally:
        PRIORITY.reset(token)


class Budget(Protocol):
    """Where slots come from: this process's pacer, or one shared by every process."""

    async def slot(self, *, priority: bool) -> tuple[bool, float]: ...


class LocalBudget:
    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def slot(self, *, priority: bool) -> tuple[bool, float]:
        return self.pacer.request_slot(priority=priority)


def trace_config(
    pacer: Pacer,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    budget: Budget | None = None,
) -> aiohttp.TraceConfig:
    slots = budget or LocalBudget(pacer)

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        if not charged(params.url.path):
            return
        priority = PRIORITY.get()
        granted, delay = await slots.slot(priority=priority)
        while not granted:  # a low-priority request waits for room outside the reserve
            await sleep(max(delay, 0.005))
            granted, delay = await slots.slot(priority=priority)
        if delay > 0:
            await sleep(delay)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_request_start)
    return config
