"""Every Discord REST request, through one budget: an ``aiohttp`` trace hook that waits for a
slot of the :class:`Budget` (this process's :class:`~bot.pacing.Pacer`, or one in Redis) before
each request leaves, discord.py's own resends included, and settles it when its answer (or
failure) arrives.

Charging where requests leave, not where the bot asks for them, matters: discord.py queues a
request behind its per-route limit and resends after a 429 or 5xx, so requests the bot asked for
earlier can pile up into one second. Priority is the caller's to say, through :data:`PRIORITY`
(a context variable, so it follows a request into discord.py's call): first posts, final edits,
thread creation and notices (the default) go before progress edits and typing indicators
(``PRIORITY`` false), which leave a reserve. Interaction callbacks and webhooks are exempt from
Discord's global limit, and so is anything that is not the REST API (the gateway, the CDN).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from types import SimpleNamespace
from typing import Protocol

import aiohttp

from .pacing import Pacer

Ticket = float | str  # what a budget hands out with a slot, and takes back when it settles

PRIORITY: ContextVar[bool] = ContextVar("discord_rest_priority", default=True)
# A slot taken before the request was made (:meth:`Gate.paid`), for the next request to use.
_PREPAID: ContextVar[list[Ticket] | None] = ContextVar("discord_rest_prepaid", default=None)
EXEMPT = ("/interactions/", "/webhooks/")
POLL = 0.05  # seconds between asks while only requests in flight (perhaps elsewhere) fill it


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

    async def slot(self, *, priority: bool) -> tuple[Ticket | None, float]: ...

    async def done(self, ticket: Ticket) -> None: ...


class LocalBudget:
    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def slot(self, *, priority: bool) -> tuple[Ticket | None, float]:
        return self.pacer.request_slot(priority=priority)

    async def done(self, ticket: Ticket) -> None:
        self.pacer.request_done(float(ticket))


class Gate:
    """Requests wait for a slot in two lines, priority and the rest, each first come first
    served: only the head of a line asks the budget, so a full budget costs two wake-ups per
    hint, not one per waiting request."""

    def __init__(
        self, budget: Budget, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self.budget = budget
        self._sleep = sleep
        self._lines = {True: asyncio.Lock(), False: asyncio.Lock()}

    async def enter(self, *, priority: bool) -> Ticket:
        async with self._lines[priority]:
            while True:
                ticket, hint = await self.budget.slot(priority=priority)
                if ticket is not None:
                    return ticket
                await self._sleep(POLL if hint == math.inf else max(hint, 0.001))

    async def leave(self, ticket: Ticket) -> None:
        await self.budget.done(ticket)

    @contextlib.asynccontextmanager
    async def paid(self) -> AsyncIterator[None]:
        """Wait for a priority slot, then run the block: its first REST request goes at once
        on that slot. So a request can be composed after the wait rather than before it (a
        reply that ended while its first post waited posts its final text, and needs no edit
        after). The slot is held until the request leaves, discord.py's wait for its route
        included: make no other REST request in the block, and wait for nothing else in it."""
        held = [await self.enter(priority=True)]
        token = _PREPAID.set(held)
        try:
            yield
        finally:
            _PREPAID.reset(token)
            if held:  # no request used it: it counts as if sent now
                await self.leave(held.pop())


def trace_config(gate: Gate) -> aiohttp.TraceConfig:
    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        if charged(params.url.path):
            held = _PREPAID.get()
            if held:
                context.rest_ticket = held.pop()
            else:
                context.rest_ticket = await gate.enter(priority=PRIORITY.get())

    async def on_settled(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: object
    ) -> None:
        ticket = getattr(context, "rest_ticket", None)
        if ticket is not None:
            context.rest_ticket = None
            await gate.leave(ticket)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_request_start)
    config.on_request_end.append(on_settled)
    config.on_request_exception.append(on_settled)
    return config
