"""Running the bot: build it with its resources, start it, stop it cleanly on SIGINT/SIGTERM.

Kept apart from ``__main__`` so that a configuration error is reported before the slow imports
(discord.py, openai) happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import aiohttp
import discord

from bot.app.chatbot import ChatBot, ShardedChatBot
from bot.app.wiring import build_services
from bot.core.settings import Settings
from bot.core.store import StoreError
from bot.services.metrics_server import MetricsServerError

log = logging.getLogger("bot")

# Discord unreachable at start-up (connection refused, DNS, 5xx): seconds between attempts.
FIRST_RETRY, LAST_RETRY = 2.0, 60.0


def build_bot(settings: Settings, **options: Any) -> ChatBot:
    """The bot with its services; nothing is opened or connected yet. ``options`` go to
    ``discord.Client`` (tests shorten ``guild_ready_timeout``)."""
    kind: type[ChatBot] = ChatBot
    if settings.shard_count is not None:  # some of the bot's shards run in this process
        kind = ShardedChatBot
        options.update(shard_count=settings.shard_count, shard_ids=list(settings.shard_ids or ()))
    return kind(services=build_services(settings), **options)


async def run(settings: Settings, **options: Any) -> int:
    """Run until Discord disconnects for good or a SIGINT/SIGTERM arrives; the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(signum, stop.set)
    try:
        async with build_bot(settings, **options) as bot:
            runner = asyncio.create_task(_start(bot, settings.discord_token), name="discord")
            stopper = asyncio.create_task(stop.wait(), name="signals")
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not stop.is_set():
                return _exit_status(runner)  # Discord or the database ended it
            log.info("Shutting down")
            if not bot.is_ready():  # still starting up: stop wherever it is
                runner.cancel()
                await asyncio.wait({runner})
            await bot.close()
            await asyncio.wait({runner})
            if not runner.cancelled() and runner.exception() is not None:
                log.debug("Start-up ended by the shutdown", exc_info=runner.exception())
            return 0
    finally:
        for signum in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signum)


async def _start(bot: ChatBot, token: str) -> None:
    """``bot.start``, but while Discord cannot be reached to log in (before anything of the bot
    is set up), one line and another try after a growing pause."""
    delay = FIRST_RETRY
    while True:
        try:
            await bot.login(token)
            break
        except (OSError, aiohttp.ClientError, discord.DiscordServerError) as exc:
            if bot.user is not None:  # logged in: the failure is the bot's own set-up
                raise
            reason = str(exc) or type(exc).__name__
            log.warning("Cannot reach Discord (%s); trying again in %.0f s", reason, delay)
            await bot.http.close()  # the failed login's HTTP session (and its connector):
            bot.http.connector = discord.utils.MISSING  # the next login makes new ones
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY)
    await bot.connect()


def _exit_status(runner: asyncio.Task[None]) -> int:
    """One clear log line, not a traceback, for the failures a user can fix."""
    if runner.cancelled() or runner.exception() is None:
        return 0
    error = runner.exception()
    if isinstance(error, discord.LoginFailure):
        log.error("Discord rejected DISCORD_TOKEN (401 Unauthorized): reset the token in the "
                  "Developer Portal (Bot → Reset Token) and update .env")  # fmt: skip
    elif isinstance(error, discord.PrivilegedIntentsRequired):
        log.error("Discord refused the connection (4014): turn on 'Message Content Intent' "
                  "in the Developer Portal (Bot → Privileged Gateway Intents)")  # fmt: skip
    elif isinstance(error, StoreError | MetricsServerError):
        log.error("%s", error)
    else:
        log.error("The bot stopped on an unexpected error", exc_info=error)
    return 1
