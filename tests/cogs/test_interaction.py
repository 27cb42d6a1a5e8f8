"""Where /chat must answer through the interaction, and what its webhook allows, table-driven
on stand-in interactions (no Discord)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.replies import Failed, Gone
from cogs.chat.interaction import END_ROOM, FOLLOWUPS, InteractionSurface, _error, bot_absent

GUILD, OTHER_GUILD = 1, 2
CONTEXT = discord.app_commands.AppCommandContext


class Bot:
    def get_guild(self, guild_id: int) -> object | None:
        return object() if guild_id == GUILD else None  # the bot is in GUILD only


def interaction(context: CONTEXT, guild_id: int | None = None, channel: object = None):
    return SimpleNamespace(context=context, guild_id=guild_id, channel=channel)


@pytest.mark.parametrize(
    ("where", "absent"),
    [
        (interaction(CONTEXT(guild=True), GUILD), False),  # a server with the bot
        (interaction(CONTEXT(guild=True), OTHER_GUILD), True),  # installed to the user only
        (interaction(CONTEXT(dm_channel=True)), False),  # the bot's own DM
        (interaction(CONTEXT(private_channel=True)), True),  # another DM, a group DM
        (interaction(CONTEXT(), channel=object.__new__(discord.GroupChannel)), True),
        (interaction(CONTEXT(), channel=object.__new__(discord.DMChannel)), False),
    ],
    ids=["server", "server without the bot", "bot DM", "private", "old group DM", "old DM"],
)
def test_the_bot_is_absent_where_only_the_interaction_reaches(where, absent):
    bot: Any = Bot()
    assert bot_absent(bot, where) is absent


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
