"""Benchmark: what voice messages cost the bot's process, on real speech.

    python bench/voice.py [--seconds 60]

Makes real speech with espeak-ng (Debian's ``espeak-ng`` package; the benchmark stops and says
so without it) about ``--seconds`` long, encodes it as a speech server sends it (OGG/Opus, and
WAV), then measures, each a median of 5 runs of the bot's own code (``bot.core.audio``):

* **CPU per spoken minute** to make a Discord voice message from the server's speech
  (:func:`~bot.core.audio.voice_clip`: decode, resample to 48 kHz mono, Opus-encode, waveform),
  from Opus and from WAV;
* **CPU per heard minute** to read a recording's real length before it is sent to be
  transcribed (:func:`~bot.core.audio.seconds_of`), for a voice message (OGG/Opus, whose
  length is in its header) and an MP3 (decoded to be counted when its header says nothing);
* **press → voice message posted**: the real bot against the fake Discord and OpenAI servers
  in this process (the fake speech server answers at once with the same speech), from the
  Speak button's press reaching the bot to the voice message reaching the fake Discord;
* **final text → voice message posted**, with ``/voice on``: from a reply's final text
  reaching the fake Discord to its voice message reaching it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import discord
import yarl
from discord.gateway import DiscordWebSocket

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app.runner import build_bot  # noqa: E402
from bot.core.audio import seconds_of, voice_clip  # noqa: E402
from bot.core.settings import load_settings  # noqa: E402
from cogs.chat import speak_button  # noqa: E402
from tests.fakes.discord_server import VOICE_MESSAGE, FakeDiscord  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, Script  # noqa: E402

SENTENCE = "The bot reads a long reply out loud for everyone in the thread, one sentence at a time."


def speech(seconds: float, folder: Path) -> Path:
    """A WAV of espeak-ng reading about ``seconds`` of text."""
    wav = folder / "speech.wav"
    words = " ".join([SENTENCE] * max(1, round(seconds / 5.5)))
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), words], check=True)
    return wav


def encode(wav: Path, fmt: str, codec: str, rate: int) -> bytes:
    out = io.BytesIO()
    with av.open(str(wav)) as source, av.open(out, "w", format=fmt) as sink:
        stream = sink.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono",
                                      rate=rate)  # fmt: skip
        for frame in [*(f for fr in source.decode(audio=0) for f in resampler.resample(fr)),
                      *resampler.resample(None)]:  # fmt: skip
            for packet in stream.encode(frame):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return out.getvalue()


def cpu_per_minute(work, data: bytes, minutes: float) -> float:
    runs = []
    for _ in range(5):
        started = time.process_time()
        work(data, 3600.0)
        runs.append((time.process_time() - started) / minutes)
    return statistics.median(runs)


async def press_to_posted(spoken: bytes, presses: int) -> tuple[list[float], list[float]]:
    """Seconds from each Speak press reaching the bot to its voice message reaching Discord;
    then, with /voice on, from each reply's final text reaching Discord to its voice message."""
    fake_discord, fake_openai = FakeDiscord(), FakeOpenAI()
    await fake_discord.start()
    await fake_openai.start()
    discord.http.Route.BASE = fake_discord.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake_discord.gateway_url)
    guild = fake_discord.add_guild("Bench")
    channel = fake_discord.add_channel(guild, "general")
    member = fake_discord.add_member(guild, "alice")
    folder = tempfile.mkdtemp(prefix="voice-bench-")
    settings = load_settings({
        "DISCORD_TOKEN": fake_discord.token, "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-bench", "DATABASE_URL": f"sqlite:///{folder}/bot.sqlite3",
        "TTS_MODEL": "tts-1", "GUILD_RPM": "0", "GUILD_TPM": "0", "USER_RPM": "0",
        "CHANNEL_HISTORY_TOOL": "false", "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    bot = build_bot(settings, guild_ready_timeout=0.05)
    running = asyncio.create_task(bot.start(settings.discord_token))
    took: list[float] = []
    after: list[float] = []
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        fake_openai.respond(Script(text="A reply to read out. " * 20))
        message = await fake_discord.user_says(channel, member, "talk", mention_bot=True)
        thread = int(message["id"])
        await fake_discord.wait_for(lambda: any(
            m["components"] and m["components"][0]["components"][0]["custom_id"].startswith("speak:")
            for m in fake_discord.bot_messages(thread)
        ), timeout=30)  # fmt: skip
        (reply,) = fake_discord.bot_messages(thread)
        for _ in range(presses):
            fake_openai.speech.append(spoken)
            before = len(
                [m for m in fake_discord.bot_messages(thread) if m["flags"] & VOICE_MESSAGE]
            )
            started = time.monotonic()
            await fake_discord.click(reply, member)
            await fake_discord.wait_for(lambda b=before: len(
                [m for m in fake_discord.bot_messages(thread) if m["flags"] & VOICE_MESSAGE]
            ) > b, timeout=60)  # fmt: skip
            took.append(time.monotonic() - started)
            # The press is done once its voice message is posted and it has settled its cost:
            # a press on the same reply before that is told the reply is being read out.
            await fake_discord.wait_for(lambda: not speak_button._speaking, timeout=10)
        token = await fake_discord.invoke(thread, member, "voice", "on")
        await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
        for number in range(presses):
            fake_openai.speech.append(spoken)
            fake_openai.respond(Script(text=f"Reply {number} to read out. " * 10))
            before = len(
                [m for m in fake_discord.bot_messages(thread) if m["flags"] & VOICE_MESSAGE]
            )
            await fake_discord.user_says(thread, member, f"again {number}")
            await fake_discord.wait_for(lambda b=before: len(
                [m for m in fake_discord.bot_messages(thread) if m["flags"] & VOICE_MESSAGE]
            ) > b, timeout=60)  # fmt: skip
            voice = [m for m in fake_discord.bot_messages(thread) if m["flags"] & VOICE_MESSAGE][-1]
            answer = int(voice["message_reference"]["message_id"])
            final = fake_discord.changed_at[answer][-1]  # its last edit: the final text
            after.append(voice["created_at"] - final)
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 10)
        await fake_openai.stop()
        await fake_discord.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return took, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="speech length (default 60)")
    options = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("bench/voice.py needs espeak-ng (Debian: apt-get install espeak-ng)")
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", tempfile.mkdtemp(prefix="tiktoken-"))
    with tempfile.TemporaryDirectory(prefix="voice-bench-") as name:
        wav = speech(options.seconds, Path(name))
        opus = encode(wav, "ogg", "libopus", 48_000)
        mp3 = encode(wav, "mp3", "libmp3lame", 22_050)
        wav_bytes = wav.read_bytes()
        minutes = seconds_of(opus, 3600) / 60
        print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"PyAV {av.__version__}; {minutes * 60:.1f} s of espeak-ng speech")  # fmt: skip
        print("| what | CPU s per minute of speech |")
        print("|---|---:|")
        print(f"| voice message from Opus ({len(opus) // 1000} kB) | "
              f"{cpu_per_minute(voice_clip, opus, minutes):.3f} |")  # fmt: skip
        print(f"| voice message from WAV ({len(wav_bytes) // 1000} kB) | "
              f"{cpu_per_minute(voice_clip, wav_bytes, minutes):.3f} |")  # fmt: skip
        print(
            f"| length of a voice message (OGG/Opus) | {cpu_per_minute(seconds_of, opus, minutes):.4f} |"
        )
        print(
            f"| length of an MP3 ({len(mp3) // 1000} kB) | {cpu_per_minute(seconds_of, mp3, minutes):.4f} |"
        )
        took, after = asyncio.run(press_to_posted(opus, 10))
        print(f"press → voice message posted ({minutes * 60:.0f} s of speech): median "
              f"{statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms")  # fmt: skip
        print(f"/voice on: final text → voice message posted: median "
              f"{statistics.median(after) * 1000:.0f} ms, max {max(after) * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
