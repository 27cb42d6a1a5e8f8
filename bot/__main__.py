"""`python -m bot`: read settings, start the bot, shut down cleanly on SIGINT/SIGTERM.

`python -m bot migrate`: bring the database schema up to date and exit, for a release step
(Procfile ``release:``) that runs before the bots start; it needs only DATABASE_URL.

Exit status: 0 after a clean shutdown (or migration), 1 when Discord or the database refuses to
start, 2 for a configuration error (reported before the slow imports, in well under a second).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bot.core.settings import (
    DatabaseSettings,
    SettingsError,
    load_database_settings,
    read_environment,
    redacted_url,
    settings_from_environment,
)

log = logging.getLogger("bot")


def _no_voice_warnings(record: logging.LogRecord) -> bool:
    """The bot has no voice features; discord.py's "PyNaCl is not installed" is noise."""
    return "voice will NOT be supported" not in record.getMessage()


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Run threadbot, or bring its database up to date."
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=("run", "migrate"),
        help="run the bot (default), or migrate the database and exit",
    )
    return parser.parse_args(argv)


def _stop_now(signum: int, frame: object) -> None:
    """SIGINT/SIGTERM before the bot's own handlers exist: nothing is running yet, so stop
    here (a deploy that replaces a process as it starts is a clean stop, exit 0)."""
    raise SystemExit(0)


def _early_signals() -> dict[int, object]:
    """Handle SIGINT/SIGTERM from the very start (the runner replaces these with its own);
    the handlers they replace, to put back."""
    previous: dict[int, object] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, _stop_now)
        except ValueError:  # not the main thread (an embedding program): leave them
            break
    return previous


def main(argv: Sequence[str] | None = None) -> int:
    previous = _early_signals()
    try:
        return _main(argv)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


def _main(argv: Sequence[str] | None) -> int:
    if _arguments(argv).command == "migrate":
        return migrate()
    try:
        settings = settings_from_environment()
    except SettingsError as exc:
        print(f"threadbot: configuration error: {exc}", file=sys.stderr)
        return 2
    import discord

    from bot.app.runner import run

    discord.utils.setup_logging(level=settings.log_level_number, root=True)
    logging.getLogger("discord.client").addFilter(_no_voice_warnings)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


def migrate() -> int:
    """Apply the pending migrations of DATABASE_URL; no Discord token needed."""
    try:
        database = load_database_settings(read_environment())
    except SettingsError as exc:
        print(f"threadbot: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s %(message)s"
    )
    return asyncio.run(_migrate(database))


async def _migrate(database: DatabaseSettings) -> int:
    from bot.core.store import StoreError
    from bot.services.store import store_from_url

    store = store_from_url(database.url, pool_size=1)  # opening a store migrates it
    try:
        await store.open()
    except StoreError as exc:
        log.error("%s", exc)
        return 1
    await store.close()
    log.info("Database %s is up to date", redacted_url(database.url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
