"""`python -m bot`: read settings, start the bot, shut down cleanly on SIGINT/SIGTERM.

Exit status: 0 after a clean shutdown, 1 when Discord or the database refuses to start, 2 for a
configuration error (reported before the slow imports, in well under a second).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from .settings import SettingsError, settings_from_environment


def _no_voice_warnings(record: logging.LogRecord) -> bool:
    """The bot has no voice features; discord.py's "PyNaCl is not installed" is noise."""
    return "voice will NOT be supported" not in record.getMessage()


def main() -> int:
    try:
        settings = settings_from_environment()
    except SettingsError as exc:
        print(f"threadbot: configuration error: {exc}", file=sys.stderr)
        return 2
    import discord

    from .runner import run

    discord.utils.setup_logging(level=settings.log_level_number, root=True)
    logging.getLogger("discord.client").addFilter(_no_voice_warnings)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


if __name__ == "__main__":
    sys.exit(main())
