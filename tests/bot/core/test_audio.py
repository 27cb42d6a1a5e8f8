"""Recordings: each check made before the step that costs (a download, a read, an upload), real
lengths read from real files, hostile files refused, and what the turn and the reply show."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.core import audio
from bot.core.audio import (
    Heard,
    Listener,
    Meter,
    Paid,
    SpeechError,
    Transcript,
    first_words,
    hear,
    render,
    seconds_of,
)
from bot.core.ratelimit.local import LocalLimiter
from bot.core.ratelimit.spending import LocalSpending
from bot.core.refusal import Refusal
from tests.fakes.clock import Clock

AUDIO = Path(__file__).resolve().parents[2] / "fakes" / "audio"
WHAT_TIME = (AUDIO / "what-time.ogg").read_bytes()
NOTES = (AUDIO / "notes.mp3").read_bytes()


class Steps:
    """Records which steps ran; each answers as scripted."""

    def __init__(self, *, data: bytes | None = WHAT_TIME, text: str = "hello", error=None):
        self.ran: list[str] = []
        self.data, self.text, self.error = data, text, error

    async def download(self) -> bytes | None:
        self.ran.append("download")
        return self.data

    async def transcribe(self, data: bytes, filename: str, content_type: str | None):
        self.ran.append("transcribe")
        if self.error is not None:
            raise self.error
        return Transcript(self.text, "english")


async def heard(steps: Steps, *, size=6_000, stated=2.0, transcribe=True, limit=300.0) -> Heard:
    return await hear(
        "voice-message.ogg", "audio/ogg", size=size, stated_seconds=stated,
        download=steps.download, listener=Listener(),
        transcribe=steps.transcribe if transcribe else None, max_seconds=limit,
    )  # fmt: skip


async def test_a_recording_is_heard():
    steps = Steps(text="  what time is it?\n")
    result = await heard(steps)
    assert result.transcript == "what time is it?" and result.refused is None
    assert result.language == "english"
    assert result.seconds == pytest.approx(2.0, rel=0.05)  # read from the file itself
    assert steps.ran == ["download", "transcribe"]


@pytest.mark.parametrize(
    ("kwargs", "reason", "ran"),
    [
        ({"transcribe": False}, Refusal.NO_SPEECH, []),
        ({"size": audio.MAX_BYTES + 1}, Refusal.TOO_LONG, []),
        ({"stated": 301.0}, Refusal.TOO_LONG, []),  # Discord's stated length: not downloaded
        ({"stated": None, "limit": 1.0}, Refusal.TOO_LONG, ["download"]),  # its real length
        ({"stated": 0.5, "limit": 1.0}, Refusal.TOO_LONG, ["download"]),  # stated, wrongly
    ],
)
async def test_each_check_comes_before_what_it_would_spend(kwargs, reason, ran):
    steps = Steps()
    result = await heard(steps, **kwargs)
    assert result.refused is reason and result.transcript is None and steps.ran == ran


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        (Steps(data=None), Refusal.BROKEN),  # the download failed
        (Steps(data=b"OggS" + bytes(200)), Refusal.BROKEN),  # not audio at all
        (Steps(error=SpeechError("HTTP 400", refused=True)), Refusal.SPEECH_REFUSED),
        (Steps(error=SpeechError("APITimeoutError", refused=False)), Refusal.SPEECH_FAILED),
        (Steps(text=" \n "), Refusal.SILENT),
    ],
)
async def test_what_goes_wrong_is_named(steps, reason):
    assert (await heard(steps)).refused is reason


def test_real_lengths_and_hostile_files():
    assert seconds_of(WHAT_TIME, 300) == pytest.approx(2.0, rel=0.05)  # OGG/Opus, as Discord's
    assert seconds_of(NOTES, 300) == pytest.approx(2.8, rel=0.05)  # MP3
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    for data in (b"", bytes(1000), png, WHAT_TIME[:40]):
        with pytest.raises(audio.Unreadable):
            seconds_of(data, 300)


async def test_the_listener_refuses_rather_than_queue_without_end():
    started, release = asyncio.Event(), asyncio.Event()

    def slow(data: bytes, limit: float) -> float:
        asyncio.run_coroutine_threadsafe(_set(started), loop).result()
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        return 1.0

    loop = asyncio.get_running_loop()
    listener = Listener(at_once=1, waiting=1, read=slow)
    first = asyncio.create_task(listener.seconds(b"x", 10))
    await started.wait()
    assert await listener.seconds(b"y", 10) is Refusal.BUSY  # one waiting already
    release.set()
    assert await first == 1.0


async def _set(event: asyncio.Event) -> None:
    event.set()


def test_the_turn_and_the_reply_show_what_was_heard():
    assert render(Heard("a.ogg", "hello\n\nthere")) == (
        "[audio a.ogg, transcribed]\n> hello\n> \n> there"  # no blank line: one part
    )
    assert render(Heard("a.ogg", "你好", language="chinese")) == (
        "[audio a.ogg, transcribed]\n> (spoken in Chinese)\n> 你好"
    )
    assert render(Heard("a.ogg", refused=Refusal.TOO_LONG)) == (
        "[attached audio: a.ogg (not transcribed)]"
    )
    assert first_words(["what  time\nis it?"]) == "what time is it?"
    long = "word " * 40
    assert first_words([long], limit=20) == "word word word word…"
    assert audio.is_audio("x.OGG", None) and audio.is_audio("x", "audio/mpeg; codecs=mp3")
    assert not audio.is_audio("x.png", "image/png")


class Ledger:
    def __init__(self) -> None:
        self.rows: list[tuple[int | None, int, float]] = []

    async def record(self, guild_id: int | None, user_id: int, cost: float) -> None:
        self.rows.append((guild_id, user_id, cost))


async def test_the_meter_holds_the_worst_case_and_settles_what_was_heard():
    clock = Clock()
    limiter = LocalLimiter(guild_rpm=0, guild_tpm=0, user_rpm=2, clock=clock)
    spending, ledger = LocalSpending(0.10, None, clock=lambda: 1_800_000_000.0), Ledger()
    meter = Meter(limiter, spending, {"whisper-1": 0.006}, ledger.record)
    toll = meter.toll(10, 7, "whisper-1")
    paid = await toll.enter(5.0)  # five minutes at most: $0.03 held
    assert isinstance(paid, Paid) and paid.hold is not None and paid.hold.amount == 0.03
    await toll.leave(paid, 0.5)  # half a minute heard
    assert ledger.rows == [(10, 7, pytest.approx(0.003))]
    assert (await spending.spent(7, 10))[0] == pytest.approx(0.003)
    assert await toll.enter(20.0) is Refusal.OVER_BUDGET  # $0.12 > what is left of $0.10
    assert await toll.enter(1.0) is Refusal.LIMITED  # the third request this minute (RPM 2)
    unpriced = meter.toll(10, 8, "some-local-whisper")
    assert await unpriced.enter(1.0) is Refusal.UNPRICED  # a budget is set, and no price


async def test_without_budgets_speech_is_only_counted_against_the_limits():
    ledger = Ledger()
    limiter = LocalLimiter(guild_rpm=0, guild_tpm=0, user_rpm=1, clock=Clock())
    meter = Meter(limiter, None, {}, ledger.record)
    toll = meter.toll(None, 7, "local")
    paid = await toll.enter(1.0)
    assert isinstance(paid, Paid) and paid.hold is None
    await toll.leave(paid, 1.0)
    assert ledger.rows == []  # no price: nothing to record
    assert await toll.enter(1.0) is Refusal.LIMITED
