"""The buttons of tool calls: Allow and Deny before a tool that acts runs (only the person who
asked may press them; no answer in time is a no), and Tools under a finished reply, which shows
the calls it made and excerpts of their results to whoever asks, privately."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.core import texts
from bot.core.discord_limits import MESSAGE_LIMIT
from bot.core.replies import Answer, Button, Question
from bot.core.replies.activity import details
from cogs.chat.reasoning_button import ReasoningButton
from cogs.chat.speak_button import SpeakButton

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


class ConsentView(discord.ui.View):
    """Allow and Deny under a :class:`Question`; :attr:`answer` once pressed (or timed out)."""

    def __init__(self, question: Question) -> None:
        super().__init__(timeout=question.seconds)
        self.question = question
        self.answer = Answer.TIMEOUT
        self.answered = False
        for answer, label, style in (
            (Answer.ALLOWED, question.allow, discord.ButtonStyle.success),
            (Answer.DENIED, question.deny, discord.ButtonStyle.danger),
        ):
            button: discord.ui.Button[ConsentView] = discord.ui.Button(label=label, style=style)
            button.callback = self._answering(answer)  # type: ignore[method-assign]
            self.add_item(button)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.question.user_id:
            return True
        await interaction.response.send_message(
            self.question.others, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return False

    def _answering(self, answer: Answer) -> Callable[[discord.Interaction], Awaitable[None]]:
        async def callback(interaction: discord.Interaction) -> None:
            if self.answered:  # a second press while the first is handled
                await interaction.response.defer()
                return
            self.answer, self.answered = answer, True
            self.stop()
            await interaction.response.edit_message(
                content=self.question.answered[answer], view=None, allowed_mentions=NO_MENTIONS
            )

        return callback


Post = Callable[[str, discord.ui.View], Awaitable[discord.Message | discord.WebhookMessage]]


async def ask(post: Post, question: Question) -> Answer:
    """Post the question with its buttons and wait for its person's answer, at most its
    ``seconds``; a prompt that can't be posted is no answer. Left unanswered (timed out, or the
    reply stopped meanwhile), the prompt says so and loses its buttons."""
    view = ConsentView(question)
    try:
        message = await post(question.text, view)
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        log.warning("Could not ask for consent: %s", exc)
        return Answer.TIMEOUT
    try:
        await view.wait()
    finally:
        if not view.answered:
            view.stop()
            # In a task of its own: when the reply was stopped, this one is being cancelled.
            task = asyncio.create_task(_close(message, question))
            _closing.add(task)
            task.add_done_callback(_closing.discard)
    return view.answer


_closing: set[asyncio.Task[None]] = set()


async def _close(message: discord.Message | discord.WebhookMessage, question: Question) -> None:
    try:
        await message.edit(
            content=question.answered[Answer.TIMEOUT], view=None, allowed_mentions=NO_MENTIONS
        )
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        log.info("Could not close a consent prompt: %s", exc)


class ToolsButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"tools:(?P<seq>\d+)"
):
    """Shows a reply's tool calls privately. Dynamic (its custom id carries the stored turn), so
    it works after restarts."""

    def __init__(self, seq: int, label: str = texts.EN.tools_button) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, emoji="🔧",
                custom_id=f"tools:{seq}",
            )
        )  # fmt: skip
        self.seq = seq

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ToolsButton:
        return cls(int(match["seq"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ChatBot = interaction.client  # type: ignore[assignment]
        said = texts.for_locale(str(interaction.locale))
        exchange = await bot.core.conversations.tool_calls(self.seq)
        if not exchange:
            await interaction.response.send_message(
                said.no_tool_calls, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        shown = details(exchange, said.tools_heading)
        if len(shown) <= MESSAGE_LIMIT:
            await interaction.response.send_message(
                shown, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        full = details(exchange, said.tools_heading, excerpt=None)
        await interaction.response.send_message(
            said.tools_heading, ephemeral=True, allowed_mentions=NO_MENTIONS,
            file=discord.File(io.BytesIO(full.encode()), filename="tools.md"),
        )  # fmt: skip


def finished_view(button: Button, words: texts.Texts) -> discord.ui.View:
    """The buttons under a finished reply: its reasoning, its tools, reading it out."""
    view = discord.ui.View(timeout=None)
    if button.reasoning:
        view.add_item(ReasoningButton(button.turn, words.reasoning_button))
    if button.tools:
        view.add_item(ToolsButton(button.turn, words.tools_button))
    if button.speak:
        view.add_item(SpeakButton(button.turn, words.speak_button))
    return view
