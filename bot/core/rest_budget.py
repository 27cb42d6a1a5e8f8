"""Every Discord REST request, through one budget: the gate that an ``aiohttp`` trace hook
(:mod:`bot.app.rest_gate`) waits at for a slot of the :class:`Budget` (this process's :class:`~bot.core.pacing.Pacer`, or one in Redis) before
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
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Protocol

from bot.core.pacing import Pacer

Ticket = float | str  # what a budget hands out with a slot, and takes back when it settles

PRIORITY: ContextVar[bool] = ContextVar("discord_rest_priority", default=True)
# A slot taken before the request was made (:meth:`Gate.paid`), for the next request to use.
PREPAID: ContextVar[list[Ticket] | None] = ContextVar("discord_rest_prepaid", default=None)
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
    """Where places come from: this process's pacer, or one shared by every process."""

    async def slots(self, *, priority: bool, count: int) -> tuple[list[Ticket], float]:
        """Up to ``count`` places at once (one decision, one trip to Redis), and, when fewer
        than asked, the hint to ask again after (``math.inf``: once a request settles)."""
        ...

    async def done(self, ticket: Ticket) -> None: ...


class LocalBudget:
    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def slots(self, *, priority: bool, count: int) -> tuple[list[Ticket], float]:
        return take(self.pacer, priority=priority, count=count)

    async def done(self, ticket: Ticket) -> None:
        self.pacer.request_done(float(ticket))


def take(pacer: Pacer, *, priority: bool, count: int) -> tuple[list[Ticket], float]:
    """Up to ``count`` places from this process's pacer, as :meth:`Budget.slots` says."""
    tickets: list[Ticket] = []
    hint = 0.0
    while len(tickets) < count:
        ticket, hint = pacer.request_slot(priority=priority)
        if ticket is None:
            break
        tickets.append(ticket)
    return tickets, hint


class Gate:
    """Requests wait for a place in two lines, priority and the rest, each first come first
    served. One task serves each line while anyone waits in it, asking the budget for as many
    places as there are people waiting: with the budget in Redis, a busy event loop makes
    every trip there slow, and a trip per request let go too few a second."""

    def __init__(
        self, budget: Budget, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self.budget = budget
        self._sleep = sleep
        self._lines: dict[bool, deque[asyncio.Future[Ticket]]] = {True: deque(), False: deque()}
        self._servers: dict[bool, asyncio.Task[None] | None] = {True: None, False: None}
        self._settling: set[asyncio.Task[None]] = set()

    async def enter(self, *, priority: bool) -> Ticket:
        line = self._lines[priority]
        if not line:  # nobody waiting: ask at once
            tickets, _ = await self.budget.slots(priority=priority, count=1)
            if tickets:
                return tickets[0]
        waiting: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        line.append(waiting)
        if self._servers[priority] is None:
            self._servers[priority] = asyncio.create_task(
                self._serve(priority), name=f"rest-gate-{'priority' if priority else 'other'}"
            )
        try:
            return await waiting
        except asyncio.CancelledError:
            if waiting.done() and not waiting.cancelled():  # granted as it was cancelled
                self._settle(waiting.result())
            raise

    async def leave(self, ticket: Ticket) -> None:
        await self.budget.done(ticket)

    async def _serve(self, priority: bool) -> None:
        line = self._lines[priority]
        try:
            while self._drop_gone(line):
                tickets, hint = await self.budget.slots(priority=priority, count=len(line))
                for ticket in tickets:
                    if self._drop_gone(line):
                        line.popleft().set_result(ticket)
                    else:  # those it was for have gone meanwhile
                        self._settle(ticket)
                if not tickets:
                    await self._sleep(POLL if hint == math.inf else max(hint, 0.001))
        finally:
            self._servers[priority] = None

    @staticmethod
    def _drop_gone(line: deque[asyncio.Future[Ticket]]) -> bool:
        """Drop those at the head of the line who stopped waiting; whether anyone is left."""
        while line and line[0].done():
            line.popleft()
        return bool(line)

    def _settle(self, ticket: Ticket) -> None:
        """A place nobody will use: it counts as if its request had been sent now."""
        task = asyncio.create_task(self.leave(ticket))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    @contextlib.asynccontextmanager
    async def paid(self) -> AsyncIterator[None]:
        """Wait for a priority slot, then run the block: its first REST request goes at once
        on that slot. So a request can be composed after the wait rather than before it (a
        reply that ended while its first post waited posts its final text, and needs no edit
        after). The slot is held until the request leaves, discord.py's wait for its route
        included: make no other REST request in the block, and wait for nothing else in it."""
        held = [await self.enter(priority=True)]
        token = PREPAID.set(held)
        try:
            yield
        finally:
            PREPAID.reset(token)
            if held:  # no request used it: it counts as if sent now
                await self.leave(held.pop())
