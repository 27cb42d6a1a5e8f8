"""The Reasoning button under a reasoning model's reply: shows its thinking to whoever asks,
privately. A dynamic item (its custom id carries the stored turn), so it works after restarts."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import discord

from bot.core import texts
from bot.core.discord_limits import MESSAGE_LIMIT

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

INLINE_LIMIT = MESSAGE_LIMIT - 100  # longer reasoning is sent as a text file (room: heading)


class ReasoningButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"reasoning:(?P<seq>\d+)"
):
    def __init__(self, seq: int, label: str = texts.EN.reasoning_button) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, emoji="💭",
                custom_id=f"reasoning:{seq}",
            )
        )  # fmt: skip
        self.seq = seq

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ReasoningButton:
        return cls(int(match["seq"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ChatBot = interaction.client  # type: ignore[assignment]
        said = texts.for_locale(str(interaction.locale))
        reasoning = await bot.core.conversations.reasoning(self.seq)
        if not reasoning:
            await interaction.response.send_message(said.no_reasoning, ephemeral=True)
        elif len(reasoning) <= INLINE_LIMIT:
            quoted = "\n".join(f"> {line}" for line in reasoning.strip().splitlines())
            await interaction.response.send_message(
                f"{said.reasoning_heading}\n{quoted}"[:MESSAGE_LIMIT], ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )  # fmt: skip
        else:
            await interaction.response.send_message(
                said.reasoning_heading, ephemeral=True,
                file=discord.File(io.BytesIO(reasoning.encode()), filename="reasoning.txt"),
            )  # fmt: skip
