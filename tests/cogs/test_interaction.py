"""Where /chat must answer through the interaction, and what its webhook allows, table-driven
on stand-in interactions (no Discord)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.core.replies import Failed, Gone
from cogs.chat.interaction import (
    END_ROOM,
    FOLLOWUPS,
    InteractionSurface,
    Presence,
    _error,
    bot_absent,
    presence,
)

GUILD, OTHER_GUILD, DOWN_GUILD = 1, 2, 3
CONTEXT = discord.app_commands.AppCommandContext


class Bot:
    def __init__(self, ready: bool = True) -> None:
        self.ready = ready

    def get_guild(self, guild_id: int) -> object | None:
        # The bot is in GUILD, and in DOWN_GUILD while Discord has it unavailable.
        if guild_id in (GUILD, DOWN_GUILD):
            return SimpleNamespace(unavailable=guild_id == DOWN_GUILD)
        return None

    def is_ready(self) -> bool:
        return self.ready


def interaction(
    context: CONTEXT, guild_id: int | None = None, channel: object = None, *, installed=True
):
    """``installed``: the app is installed to the server (else only to the person)."""
    return SimpleNamespace(
        context=context, guild_id=guild_id, channel=channel,
        is_guild_integration=lambda: guild_id is not None and installed,
    )  # fmt: skip


ABSENT, PRESENT, UNKNOWN = Presence.ABSENT, Presence.PRESENT, Presence.UNKNOWN


@pytest.mark.parametrize(
    ("where", "ready", "expected"),
    [
        (interaction(CONTEXT(guild=True), GUILD), True, PRESENT),  # a server with the bot
        (interaction(CONTEXT(guild=True), DOWN_GUILD), True, UNKNOWN),  # unavailable
        (interaction(CONTEXT(guild=True), OTHER_GUILD, installed=False), True, ABSENT),
        (interaction(CONTEXT(guild=True), OTHER_GUILD, installed=False), False, ABSENT),
        (interaction(CONTEXT(guild=True), OTHER_GUILD), True, ABSENT),  # installed, no bot
        (interaction(CONTEXT(guild=True), OTHER_GUILD), False, UNKNOWN),  # not loaded yet
        (interaction(CONTEXT(dm_channel=True)), True, PRESENT),  # the bot's own DM
        (interaction(CONTEXT(private_channel=True)), True, ABSENT),  # another DM, a group DM
        (interaction(CONTEXT(), channel=object.__new__(discord.GroupChannel)), True, ABSENT),
        (interaction(CONTEXT(), channel=object.__new__(discord.DMChannel)), True, PRESENT),
    ],
    ids=[
        "server", "unavailable server", "user install", "user install before ready",
        "server install without the bot", "server not loaded yet", "bot DM", "private",
        "old group DM", "old DM",
    ],
)  # fmt: skip
def test_where_the_bot_is_present_absent_or_unknown(where, ready, expected):
    bot: Any = Bot(ready)
    assert presence(bot, where) is expected
    assert bot_absent(bot, where) is (expected is ABSENT)  # "unknown" is never "absent"


def test_the_surface_takes_five_follow_ups_and_ends_before_the_token_expires():
    made = discord.utils.utcnow() - dt.timedelta(minutes=10)
    expires = made + dt.timedelta(minutes=15)
    asked: Any = SimpleNamespace(followup=None, channel_id=7, expires_at=expires)
    bot: Any = Bot()
    surface = InteractionSurface(bot, asked, conversation_id=7, clock=lambda: 100.0)
    assert surface.limits.messages == FOLLOWUPS == 5
    assert surface.limits.until == pytest.approx(100.0 + 5 * 60 - END_ROOM, abs=1)


def http_error(status: int, code: int) -> discord.HTTPException:
    response: Any = SimpleNamespace(status=status, reason="")
    return discord.HTTPException(response, {"message": "x", "code": code})


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(401, 50027, Gone), (404, 10015, Gone), (404, 10008, Gone), (500, 0, Failed),
     (429, 0, Failed), (400, 40094, Failed)],
)  # fmt: skip
def test_webhook_errors_stop_the_reply_when_retrying_cannot_help(status, code, kind):
    assert isinstance(_error(http_error(status, code)), kind)
