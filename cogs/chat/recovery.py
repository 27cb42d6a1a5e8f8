"""After a crash: mend the replies a previous process left half-shown in Discord.

Their turns were marked interrupted at start-up; here their messages lose the cursor and the
Stop button and say that the bot restarted (:func:`bot.core.recovery.mend` decides how),
and the stored turn keeps the text that was shown.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.core import texts
from bot.core.recovery import mend, unfinished
from bot.core.store import Turn
from cogs.chat.surface import NO_MENTIONS

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

log = logging.getLogger(__name__)

MAX_PARTS = 10  # messages looked at in a channel's history to find a reply's parts


async def mend_interrupted_replies(bot: ChatBot, turns: list[Turn]) -> None:
    await bot.wait_until_ready()
    for turn in turns:
        try:
            await _mend(bot, turn)
        except discord.HTTPException as exc:  # deleted, or no access any more: leave it
            log.info("Could not mend interrupted reply %s: %s", turn.message_id, exc)


def _is_unfinished(message: discord.Message) -> bool:
    return unfinished(message.content, bool(message.components))


async def _mend(bot: ChatBot, turn: Turn) -> None:
    assert bot.user is not None
    channel = bot.get_partial_messageable(turn.conversation_id)
    if turn.message_id is not None:  # the first message is known; parts follow it
        first = await channel.fetch_message(turn.message_id)
        parts = [first]
        if not _is_unfinished(first):
            later = [
                message
                async for message in channel.history(
                    after=first, limit=MAX_PARTS, oldest_first=True
                )
                if message.author.id == bot.user.id
            ]
            end = next((i for i, m in enumerate(later) if _is_unfinished(m)), None)
            parts += later[: end + 1] if end is not None else []
    else:  # died between posting and recording the message: look for what it left
        recent = [m async for m in channel.history(limit=MAX_PARTS)]
        parts = [m for m in reversed(recent) if m.author.id == bot.user.id and _is_unfinished(m)]
    if not parts:
        await bot.core.conversations.drop_reply(turn)  # nothing was shown: nothing to keep
        return
    thread = bot.get_channel(turn.conversation_id)
    guild = getattr(thread, "guild", None)
    said = texts.for_locale(str(guild.preferred_locale) if guild else None)
    plan = mend([message.content for message in parts], said.interrupted_by_restart)
    await bot.core.conversations.mend_reply(turn, plan.stored)
    for message, content in zip(parts, plan.contents, strict=True):
        if content != message.content or message.components:
            await message.edit(content=content, view=None, allowed_mentions=NO_MENTIONS)
    if plan.note_apart:
        await channel.send(said.interrupted_by_restart, allowed_mentions=NO_MENTIONS)
    log.info("Mended reply %s, interrupted by a restart", turn.message_id)
