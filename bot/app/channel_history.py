"""The bot's one built-in tool, ``discord__read_channel``: the recent messages of the channel a
conversation was started from (or another channel of that server the person names), so that
"summarise what was said above" works. It reads as the person who asked may: a channel they
can't view, or whose history they can't read, is refused (:data:`bot.core.policy.TO_READ_HISTORY`),
and so is any channel outside the conversation's server and any private thread but the
conversation's own. Offered in servers the bot is a member of; ``/tools`` switches it off like
any server's tools (its server name is ``discord``)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

import discord

from bot.app.places import flags_of
from bot.core import policy
from bot.core.policy import Place
from bot.core.tool_loop import CALL_SECONDS
from bot.core.tools import BUILTIN_SERVER, RESULT_CHARS, Tool, ToolResult

log = logging.getLogger(__name__)

DEFAULT_MESSAGES = 50
MAX_MESSAGES = 100  # one REST request (Discord returns at most 100 messages a page)
_CHANNEL = re.compile(r"\s*(?:<#(\d{15,22})>|#?(\d{15,22}))\s*")

READ_CHANNEL = Tool(
    server=BUILTIN_SERVER,
    name="read_channel",
    function=f"{BUILTIN_SERVER}__read_channel",
    description=(
        "Read the newest messages of a Discord channel, oldest first, with their authors and "
        "times: by default the channel this conversation was started from. Use it when the "
        "person refers to what was said there (for example: summarise the discussion above)."
    ),
    schema={
        "type": "object",
        "properties": {
            "channel": {
                "type": "string",
                "description": "Another channel of this server, as <#id> or its id. "
                "Leave it out for the conversation's own channel.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_MESSAGES,
                "description": f"How many of the newest messages (default {DEFAULT_MESSAGES}).",
            },
        },
        "additionalProperties": False,
    },
    acts=False,  # it only reads, and only what the person who asked may read
)


class ChannelHistory:
    """The :class:`~bot.core.tools.ToolHost` of :data:`READ_CHANNEL`, on the bot's client."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def tools(self, place: Place) -> tuple[Tool, ...]:
        return (READ_CHANNEL,) if place.in_server else ()

    async def call(
        self,
        function: str,
        arguments: Mapping[str, Any],
        *,
        place: Place,
        asker_id: int | None = None,
        seconds: float | None = None,
    ) -> ToolResult:
        if function != READ_CHANNEL.function or not place.in_server or asker_id is None:
            return ToolResult.failure(f"There is no tool called {function} here.")
        try:
            async with asyncio.timeout(seconds or CALL_SECONDS):
                return await self._read(arguments, place, asker_id)
        except TimeoutError:
            return ToolResult.failure("Discord did not answer in time.")
        except discord.HTTPException as exc:
            log.info("Reading a channel's history failed: %s", exc)
            return ToolResult.failure(f"Discord refused to list the messages ({exc.status}).")

    async def _read(self, arguments: Mapping[str, Any], place: Place, asker_id: int) -> ToolResult:
        guild = self.client.get_guild(place.guild_id or 0)
        if guild is None:
            return ToolResult.failure("This server is not available right now.")
        wanted = _channel_id(arguments.get("channel"), place)
        if wanted is None:
            return ToolResult.failure("Name the channel as <#id> or by its id.")
        channel = guild.get_channel_or_thread(wanted)
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            return ToolResult.failure("There is no text channel with that id in this server.")
        if (
            isinstance(channel, discord.Thread)
            and channel.is_private()
            and channel.id != place.channel_id
        ):
            return ToolResult.failure(
                "Private threads other than this conversation's are not read."
            )
        asker = guild.get_member(asker_id) or await _member(guild, asker_id)
        if asker is None:
            return ToolResult.failure("The person who asked is not a member of this server.")
        lacking = policy.missing(flags_of(channel.permissions_for(asker)), policy.TO_READ_HISTORY)
        if lacking:
            return ToolResult.failure(
                f"The person who asked may not read #{channel.name} ({', '.join(lacking)})."
            )
        mine = policy.missing(flags_of(channel.permissions_for(guild.me)), policy.TO_READ_HISTORY)
        if mine:
            return ToolResult.failure(f"The bot may not read #{channel.name} ({', '.join(mine)}).")
        limit = _limit(arguments.get("limit"))
        messages = [m async for m in channel.history(limit=limit)]  # newest first
        return ToolResult(parts=_lines(channel.name, messages))


async def _member(guild: discord.Guild, user_id: int) -> discord.Member | None:
    try:
        return await guild.fetch_member(user_id)
    except discord.NotFound:
        return None


def _channel_id(named: object, place: Place) -> int | None:
    """The channel asked for: ``<#id>`` or an id; by default the conversation's channel."""
    if named is None or named == "":
        return place.parent_id if place.parent_id is not None else place.channel_id
    if isinstance(named, int) and not isinstance(named, bool):
        return named
    found = _CHANNEL.fullmatch(named) if isinstance(named, str) else None
    return int(found.group(1) or found.group(2)) if found else None


def _limit(asked: object) -> int:
    """How many messages: a number (small models often write one as a string), bounded."""
    if isinstance(asked, str) and asked.strip().isdigit():
        asked = int(asked)
    if isinstance(asked, bool) or not isinstance(asked, int | float):
        return DEFAULT_MESSAGES
    return max(1, min(MAX_MESSAGES, int(asked)))


def _lines(name: str, newest_first: list[discord.Message]) -> tuple[str, ...]:
    """The messages oldest first, one line each (attachments named), as many of the newest as
    fit in :data:`RESULT_CHARS`."""
    kept: list[str] = []
    room = RESULT_CHARS - 200  # the heading's
    for message in newest_first:
        text = message.clean_content
        files = ", ".join(a.filename for a in message.attachments)
        if files:
            text = f"{text} [attached: {files}]".strip()
        line = f"[{message.created_at:%Y-%m-%d %H:%M} UTC] {message.author.display_name}: {text}"
        if len(line) + 1 > room:
            break
        kept.append(line)
        room -= len(line) + 1
    heading = f"The newest {len(kept)} messages of #{name}, oldest first:"
    if len(kept) < len(newest_first):
        heading += f" ({len(newest_first) - len(kept)} older ones left out for length)"
    return (heading, "\n".join(reversed(kept)))
