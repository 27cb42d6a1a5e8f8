"""The Speak button under a finished reply: the reply read out (``TTS_MODEL``) and posted under
it as a real Discord voice message: OGG/Opus, flag 8192, with its length and waveform.

discord.py (2.7) reads voice messages but cannot send one: :class:`VoiceFile` adds the two
fields its attachments lack (``duration_secs``, ``waveform``), and the message goes out through
discord.py's own HTTP client, so its route, multipart form, rate limits, retries and the REST
gate all apply. Drop :class:`VoiceFile` and :func:`send_voice` once discord.py can send voice
messages itself."""

from __future__ import annotations

import base64
import io
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord.http import handle_message_parameters
from discord.utils import MISSING

from bot.app.places import place_of
from bot.core import texts
from bot.core.audio import Clip, SpeechError, speakable
from bot.core.refusal import Refusal
from bot.core.store import Turn

if TYPE_CHECKING:
    from bot.app.chatbot import ChatBot

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
SPEAKING_AT_ONCE = 4  # replies being read out at once, per process; more are told to wait
MAX_SPOKEN_SECONDS = 600.0  # of speech kept from the server, whatever it sent
_speaking: set[int] = set()  # the replies (stored turns) being read out now


class VoiceFile(discord.File):
    """A voice message's one attachment, with the length and waveform Discord shows."""

    def __init__(self, clip: Clip) -> None:
        super().__init__(io.BytesIO(clip.data), filename="voice-message.ogg")
        self.clip = clip

    def to_dict(self, index: int) -> dict[str, Any]:
        return {
            **super().to_dict(index),
            "duration_secs": round(self.clip.seconds, 2),
            "waveform": base64.b64encode(self.clip.waveform).decode(),
        }


async def send_voice(
    bot: ChatBot, channel_id: int, clip: Clip, *, reply_to: int | None = None
) -> None:
    """Post ``clip`` as a voice message (no text: Discord allows none beside one)."""
    reference = (
        discord.MessageReference(
            message_id=reply_to, channel_id=channel_id, fail_if_not_exists=False
        ).to_message_reference_dict()
        if reply_to is not None
        else MISSING
    )
    with handle_message_parameters(
        files=[VoiceFile(clip)], flags=discord.MessageFlags(voice=True),
        allowed_mentions=NO_MENTIONS, message_reference=reference,  # type: ignore[arg-type]
    ) as params:  # fmt: skip
        await bot.http.send_message(channel_id, params=params)


async def read_out(
    bot: ChatBot,
    text: str,
    *,
    channel_id: int,
    guild_id: int | None,
    asker_id: int,
    reply_to: int | None,
    words: texts.Texts,
) -> str | None:
    """A reply read out and posted as a voice message under ``reply_to``, paid by
    ``asker_id`` (limits, budgets); None when done, else what to tell the person."""
    speech, meter = bot.services.speech, bot.core.meter
    if speech is None or speech.tts_model is None:
        return words.speak_unavailable
    spoken, cut = speakable(text, bot.settings.speak_max_chars)
    if cut:
        spoken += " " + words.speak_cut
    if not spoken.strip():
        return None
    toll = meter.toll(guild_id, asker_id, speech.tts_model) if meter is not None else None
    paid = await toll.enter(len(spoken) / 1e6) if toll is not None else None  # per Mchars
    if isinstance(paid, Refusal):
        return words.speak_failed(paid)
    sent = True  # the characters went to the speech server (and are paid for)
    try:
        try:
            audio = await speech.speak(spoken)
        except SpeechError as exc:
            sent = not exc.refused
            log.warning("Could not read a reply out: %s", exc)
            return words.speak_failed(
                Refusal.SPEECH_REFUSED if exc.refused else Refusal.SPEECH_FAILED
            )
        clip = await bot.core.listener.clip(audio, MAX_SPOKEN_SECONDS)
        if isinstance(clip, Refusal):
            return words.speak_failed(clip)
        try:
            await send_voice(bot, channel_id, clip, reply_to=reply_to)
        except discord.HTTPException as exc:
            log.warning("Could not post a voice message: %s", exc)
            return words.speak_failed(Refusal.SPEECH_FAILED)
        return None
    finally:
        if toll is not None and paid is not None:
            await toll.leave(paid, len(spoken) / 1e6 if sent else 0.0)


class SpeakButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"speak:(?P<seq>\d+)"
):
    """Reads a reply out, for anyone the operator's lists let use the bot there, counted
    against their rate limits like a model request. Dynamic (its custom id carries the stored
    turn), so it works after restarts."""

    def __init__(self, seq: int, label: str = texts.EN.speak_button) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, emoji="🔊",
                custom_id=f"speak:{seq}",
            )
        )  # fmt: skip
        self.seq = seq

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> SpeakButton:
        return cls(int(match["seq"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ChatBot = interaction.client  # type: ignore[assignment]
        words = texts.for_locale(str(interaction.locale))
        turn = await self._turn(bot, interaction)
        if isinstance(turn, str):
            await interaction.response.send_message(
                turn, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.response.defer()  # nothing shown until the voice message is
        _speaking.add(self.seq)
        failed: str | None = words.speak_failed(Refusal.SPEECH_FAILED)
        try:
            failed = await read_out(
                bot, turn.content, channel_id=interaction.channel_id or 0,
                guild_id=interaction.guild_id, asker_id=interaction.user.id,
                reply_to=interaction.message.id if interaction.message is not None else None,
                words=words,
            )  # fmt: skip
        except Exception:  # a bug: the person still hears why nothing came
            log.exception("Reading reply %s out failed", self.seq)
        finally:
            _speaking.discard(self.seq)
        if failed is not None:
            await interaction.followup.send(failed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def _turn(self, bot: ChatBot, interaction: discord.Interaction) -> Turn | str:
        """The reply to read out, or why this press is refused (before anything is spent)."""
        words = texts.for_locale(str(interaction.locale))
        speech = bot.services.speech
        if speech is None or speech.tts_model is None:
            return words.speak_unavailable
        channel_id = interaction.channel_id or 0
        place = place_of(interaction.channel, channel_id, interaction.guild_id)
        refusal = await bot.refusal_for(interaction.user, place)
        if refusal is not None:
            return words.refused(refusal)
        if self.seq in _speaking or len(_speaking) >= SPEAKING_AT_ONCE:
            return words.speak_busy
        turn = await bot.core.conversations.stored_reply(self.seq)
        if turn is None or turn.conversation_id != channel_id:
            return words.speak_gone
        return turn
