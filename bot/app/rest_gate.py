"""The REST gate's hook into discord.py's HTTP session: an ``aiohttp`` trace config that waits
at the :class:`~bot.core.rest_budget.Gate` before each charged request leaves and settles its
ticket when the answer (or failure) arrives."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp

from bot.core.rest_budget import PREPAID, PRIORITY, Gate, charged


def trace_config(gate: Gate) -> aiohttp.TraceConfig:
    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        if charged(params.url.path):
            held = PREPAID.get()
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
