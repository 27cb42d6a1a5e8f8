"""After a crash: mend the replies a previous process left half-shown in Discord.

Their turns were marked interrupted at start-up; here their messages lose the cursor and the
Stop button, say that the bot restarted, and the stored turn gets the text that was shown.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot import texts
from bot.render import CURSOR
from bot.store import Turn, TurnStatus

from .reply import NO_MENTIONS

if TYPE_CHECKING:
    from bot.app import ChatBot

log = logging.getLogger(__name__)

MAX_PARTS = 10  # a reply's messages after its first, looked up in the channel's history


async def mend_interrupted_replies(bot: ChatBot, turns: list[Turn]) -> None:
    await bot.wait_until_ready()
    for turn in turns:
        try:
            await _mend(bot, turn)
        except discord.HTTPException as exc:  # deleted, or no access any more: leave it
            log.info("Could not mend interrupted reply %s: %s", turn.message_id, exc)


async def _mend(bot: ChatBot, turn: Turn) -> None:
    assert turn.message_id is not None and bot.user is not None
    channel = bot.get_partial_messageable(turn.conversation_id)
    first = await channel.fetch_message(turn.message_id)
    parts = [first]
    if not _unfinished(first):  # a long reply continues in later messages, up to the cursor
        later = [
            message
            async for message in channel.history(after=first, limit=MAX_PARTS, oldest_first=True)
            if message.author.id == bot.user.id
        ]
        end = next((i for i, message in enumerate(later) if _unfinished(message)), None)
        parts += later[: end + 1] if end is not None else []
    shown = [message.content.removesuffix(CURSOR) for message in parts]
    text = "".join(shown)
    await bot.store.update_turn(
        turn.seq, content=text, tokens=bot.counter.message("assistant", text),
        status=TurnStatus.INTERRUPTED,
    )  # fmt: skip
    for message, part in zip(parts, shown, strict=True):
        final = message is parts[-1]
        if final or message.components:
            content = f"{part}\n\n{texts.INTERRUPTED_BY_RESTART}" if final else part
            await message.edit(content=content, view=None, allowed_mentions=NO_MENTIONS)
    log.info("Mended reply %s, interrupted by a restart", turn.message_id)


def _unfinished(message: discord.Message) -> bool:
    return message.content.endswith(CURSOR) or bool(message.components)
