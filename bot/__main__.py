"""`python -m bot`: read settings, start the bot, shut down cleanly on SIGINT/SIGTERM.

Exit status: 0 after a clean shutdown, 1 when Discord or the database refuses to start, 2 for a
configuration error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

import discord

from .app import ChatBot
from .llm import LLMClient
from .settings import Settings, SettingsError, settings_from_environment
from .store import StoreError, store_from_url

log = logging.getLogger("bot")


def build_bot(settings: Settings, **options: Any) -> ChatBot:
    """The bot with its resources; nothing is opened or connected yet. ``options`` go to
    ``discord.Client`` (tests shorten ``guild_ready_timeout``)."""
    llm = LLMClient.create(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        is_openai=settings.is_openai,
    )
    store = store_from_url(settings.database_url)
    return ChatBot(settings=settings, store=store, llm=llm, **options)


async def run(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(signum, stop.set)
    async with build_bot(settings) as bot:
        runner = asyncio.create_task(bot.start(settings.discord_token), name="discord")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not runner.done():
            log.info("Shutting down")
            await bot.close()
        stopper.cancel()
        try:
            await runner
        except discord.LoginFailure:
            log.error("Discord rejected DISCORD_TOKEN (401 Unauthorized): reset the token in the "
                      "Developer Portal (Bot → Reset Token) and update .env")  # fmt: skip
            return 1
        except discord.PrivilegedIntentsRequired:
            log.error("Discord refused the connection (4014): turn on 'Message Content Intent' "
                      "in the Developer Portal (Bot → Privileged Gateway Intents)")  # fmt: skip
            return 1
        except StoreError as exc:
            log.error("%s", exc)
            return 1
        except asyncio.CancelledError:
            pass
    return 0


def main() -> int:
    try:
        settings = settings_from_environment()
    except SettingsError as exc:
        print(f"threadbot: configuration error: {exc}", file=sys.stderr)
        return 2
    discord.utils.setup_logging(level=settings.log_level_number, root=True)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


if __name__ == "__main__":
    sys.exit(main())
