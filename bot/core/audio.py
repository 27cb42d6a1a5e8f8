"""Voice messages and audio files in a conversation: transcribed, and answered like text.

A Discord voice message is an OGG/Opus attachment on a message flagged 8192, with its length in
``duration_secs``; people also attach recordings (mp3, m4a, wav, ogg, webm, flac). Each is
checked before anything is spent on it: by its size and (for a voice message) its stated length
before it is downloaded, then by its real length, read from the file in a worker thread
(:class:`Listener`, a few at a time, as images are) before it is sent to the speech server. The
transcript is what the turn holds and what is re-sent; the audio itself is never kept.

PyAV (FFmpeg's libraries, in its wheels) reads the files: Python has no well-kept pure reader of
Opus, AAC and MP3 alike, and its wheels carry the Opus encoder the bot needs to speak too.
"""

from __future__ import annotations

import array
import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Protocol, TypeVar

from bot.core.refusal import Refusal

if TYPE_CHECKING:  # (the settings read this module's defaults; the limiter reads the settings)
    from bot.core.ratelimit.base import Limiter
    from bot.core.ratelimit.spending import Hold, Spending

T = TypeVar("T")

log = logging.getLogger(__name__)

VOICE_FLAG = 1 << 13  # a message's flag: it is a voice message (Discord's IS_VOICE_MESSAGE)
MAX_BYTES = 25_000_000  # OpenAI's limit for one transcription upload; larger files are refused
DEFAULT_MAX_SECONDS = 300  # AUDIO_MAX_SECONDS: longer recordings are refused, not transcribed
TYPES = ("audio/", "video/webm", "video/mp4", "application/ogg")
EXTENSIONS = (".ogg", ".oga", ".opus", ".mp3", ".m4a", ".mp4", ".wav", ".webm", ".flac", ".aac")
# FFmpeg's demuxers a file may be read with, whatever its name says (each name as FFmpeg gives it).
CONTAINERS = ("ogg", "mp3", "mov,mp4,m4a,3gp,3g2,mj2", "wav", "matroska,webm", "flac", "aac")
READS_AT_ONCE = 2  # files read in worker threads, this many at a time per process
READS_WAITING = 16  # past this many waiting, a file is refused rather than queued
READ_WAIT = 60.0  # seconds a file may wait for its turn to be read
QUOTED_CHARS = 80  # of a transcript, in the line a reply shows of what was heard


def is_audio(filename: str, content_type: str | None) -> bool:
    if content_type and content_type.split(";")[0].strip().startswith(TYPES):
        return True
    return PurePath(filename).suffix.lower() in EXTENSIONS


@dataclass(frozen=True, slots=True)
class Heard:
    """One recording of a message: its transcript, or why there is none."""

    filename: str
    transcript: str | None = None
    refused: Refusal | None = None  # why it was not transcribed (None: it was)
    seconds: float | None = None  # its length, where known
    language: str | None = None  # as the speech server named it ("english", "chinese")


def heading(filename: str) -> str:
    """The line a transcript's quote follows in the turn."""
    return f"[audio {filename}, transcribed]"


def render(heard: Heard) -> str:
    """How a recording appears in the turn: what was heard, quoted (no blank line in it), or
    just its name."""
    if heard.transcript is None:
        return f"[attached audio: {heard.filename} (not transcribed)]"
    lines = heard.transcript.strip().splitlines() or [""]
    if heard.language:  # so that the reply follows the language spoken
        lines.insert(0, f"(spoken in {heard.language.strip().capitalize()[:40]})")
    quoted = "\n".join(f"> {line}" for line in lines)
    return f"{heading(heard.filename)}\n{quoted}"


def first_words(transcripts: Sequence[str], limit: int = QUOTED_CHARS) -> str:
    """The start of what was heard, on one line, cut at a word with "…" when longer."""
    text = " ".join(" ".join(t.split()) for t in transcripts if t.strip())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(",.;:") + "…"


class Unreadable(Exception):
    """The file is not audio the bot reads (a format not listed, no audio stream, broken)."""


def seconds_of(data: bytes, limit: float) -> float:
    """The recording's length, from its header when the container states it, else by decoding
    it (stopping just past ``limit``: a longer one is refused anyway). Raises
    :class:`Unreadable`. Runs in a worker thread."""
    import av  # FFmpeg's libraries: loaded only when a recording is read

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if container.format.name not in CONTAINERS:
                raise Unreadable(f"container {container.format.name}")
            if not container.streams.audio:
                raise Unreadable("no audio stream")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None and container.duration > 0:
                return container.duration / av.time_base
            heard = 0.0
            for frame in container.decode(stream):
                heard += frame.samples / (frame.sample_rate or 48_000)
                if heard > limit + 1:
                    break
            return heard
    except av.FFmpegError as exc:
        raise Unreadable(str(exc)) from None


class Listener:
    """Reads recordings (their length) and makes voice messages off the event loop,
    :data:`READS_AT_ONCE` at a time, for the whole process; past :data:`READS_WAITING`
    waiting, or after ``wait`` seconds, the work is refused as busy rather than held without
    end."""

    def __init__(
        self,
        *,
        at_once: int = READS_AT_ONCE,
        waiting: int = READS_WAITING,
        wait: float = READ_WAIT,
        read: Callable[[bytes, float], float] = seconds_of,
        encode: Callable[[bytes, float], Clip] | None = None,
    ) -> None:
        self.max_waiting, self.wait = waiting, wait
        self._read, self._encode = read, encode or voice_clip
        self._slots = asyncio.Semaphore(at_once)
        self._waiting = 0

    async def seconds(self, data: bytes, limit: float) -> float | Refusal:
        return await self._in_turn(self._read, data, limit)

    async def clip(self, data: bytes, limit: float) -> Clip | Refusal:
        """Speech as a Discord voice message, at most ``limit`` seconds of it."""
        return await self._in_turn(self._encode, data, limit)

    async def _in_turn(
        self, work: Callable[[bytes, float], T], data: bytes, limit: float
    ) -> T | Refusal:
        if self._waiting >= self.max_waiting:
            log.warning("Refused a recording: %d are waiting to be read", self._waiting)
            return Refusal.BUSY
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait), self._slots:
                return await asyncio.to_thread(work, data, limit)
        except TimeoutError:
            return Refusal.BUSY
        except Unreadable as exc:
            log.info("A recording could not be read: %s", exc)
            return Refusal.BROKEN
        finally:
            self._waiting -= 1


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the speech server heard, and the language it heard it in, when it says."""

    text: str
    language: str | None = None


# Sends a recording to the speech server: its transcript, or raises SpeechError.
Transcribe = Callable[[bytes, str, str | None], Awaitable[Transcript]]


class Toll(Protocol):
    """Lets one piece of speech work through the limits and budgets (:class:`Meter`, for one
    person and model), and settles it: ``amount`` in the model's unit (minutes, Mchars)."""

    async def enter(self, amount: float) -> Paid | Refusal: ...

    async def leave(self, paid: Paid, amount: float) -> None: ...


class SpeechError(Exception):
    """The speech server did not transcribe: ``refused`` (a 4xx: it will not) or not."""

    def __init__(self, message: str, *, refused: bool, bad_request: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        self.bad_request = bad_request  # a 400: maybe only the request's form was refused


async def hear(
    filename: str,
    content_type: str | None,
    *,
    size: int,
    stated_seconds: float | None,
    download: Callable[[], Awaitable[bytes | None]],
    listener: Listener,
    transcribe: Transcribe | None,
    max_seconds: float,
    toll: Toll | None = None,
) -> Heard:
    """One recording, checked at each step before the next costs anything: a speech model is
    set, its size and stated length are within bounds, and the person's limits and budgets
    let it through (``toll``; all before it is downloaded), its real length is (before it is
    sent), then transcribed and paid for by the minute."""

    def refused(why: Refusal, seconds: float | None = None) -> Heard:
        return Heard(filename, refused=why, seconds=seconds)

    if transcribe is None:
        return refused(Refusal.NO_SPEECH)
    if size > MAX_BYTES:
        return refused(Refusal.TOO_LONG)
    if stated_seconds is not None and stated_seconds > max_seconds:
        return refused(Refusal.TOO_LONG, stated_seconds)
    paid = await toll.enter((stated_seconds or max_seconds) / 60) if toll is not None else None
    if isinstance(paid, Refusal):
        return refused(paid, stated_seconds)
    result = refused(Refusal.BROKEN)
    try:
        result = await _transcribed(
            filename, content_type, download, listener, transcribe, max_seconds
        )
        return result
    finally:  # paid by the minute heard: what the speech server transcribed, silence included
        if toll is not None and paid is not None:
            done = result.transcript is not None or result.refused is Refusal.SILENT
            await toll.leave(paid, (result.seconds or 0.0) / 60 if done else 0.0)


async def _transcribed(
    filename: str,
    content_type: str | None,
    download: Callable[[], Awaitable[bytes | None]],
    listener: Listener,
    transcribe: Transcribe,
    max_seconds: float,
) -> Heard:
    def refused(why: Refusal, seconds: float | None = None) -> Heard:
        return Heard(filename, refused=why, seconds=seconds)

    data = await download()
    if data is None:
        return refused(Refusal.BROKEN)
    seconds = await listener.seconds(data, max_seconds)
    if isinstance(seconds, Refusal):
        return refused(seconds)
    if seconds > max_seconds:
        return refused(Refusal.TOO_LONG, seconds)
    try:
        heard = await transcribe(data, filename, content_type)
    except SpeechError as exc:
        log.warning("Could not transcribe %s: %s", filename, exc)
        return refused(Refusal.SPEECH_REFUSED if exc.refused else Refusal.SPEECH_FAILED, seconds)
    if not heard.text.strip():
        return refused(Refusal.SILENT, seconds)
    return Heard(filename, heard.text.strip(), seconds=seconds, language=heard.language)


# -- Speaking: a reply as a Discord voice message ----------------------------------------------

VOICE_RATE = 48_000  # Hz: Opus's, and what Discord's clients record
VOICE_BITRATE = 32_000  # bits per second: clear speech, about 240 kB a minute
WAVEFORM_MAX = 256  # samples: the most Discord shows; one per 100 ms below that
DEFAULT_SPEAK_CHARS = 1_500  # SPEAK_MAX_CHARS: of a reply, spoken at most (about 90 s of speech)


@dataclass(frozen=True, slots=True)
class Clip:
    """A voice message as Discord takes one: OGG/Opus, its length, and its waveform (one byte
    of loudness, 0-255, per step of the recording)."""

    data: bytes
    seconds: float
    waveform: bytes


def speakable(text: str, limit: int) -> tuple[str, bool]:
    """What of a reply is read out: code blocks left out (said as such), Markdown marks
    dropped, at most ``limit`` characters cut at a sentence or a word; and whether it was cut."""
    import re

    text = re.sub(r"```.*?(```|$)", " (code) ", text, flags=re.DOTALL)
    text = re.sub(r"<(?:@[!&]?|#|a?:\w+:)\d+>", "", text)  # mentions, channels, emoji
    text = re.sub(r"[*_`~>#|]+", "", text)
    text = " ".join(text.split())
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("。"))
    if end >= limit // 2:
        return cut[: end + 1], True
    return (cut.rsplit(" ", 1)[0] or cut), True


def voice_clip(data: bytes, max_seconds: float) -> Clip:
    """Any speech the server sent (Opus, MP3, WAV…) as a Discord voice message: mono OGG/Opus
    at 48 kHz, its length counted from the samples, its waveform from their peaks. Stops at
    ``max_seconds``. Raises :class:`Unreadable`. Runs in a worker thread."""
    import av

    out = io.BytesIO()
    peaks: list[int] = []  # the loudest sample of every 100 ms
    samples = 0
    step = VOICE_RATE // 10
    try:
        with av.open(io.BytesIO(data), mode="r") as source:
            if source.format.name not in CONTAINERS or not source.streams.audio:
                raise Unreadable(f"container {source.format.name}")
            with av.open(out, mode="w", format="ogg") as sink:
                stream = sink.add_stream("libopus", rate=VOICE_RATE, layout="mono")
                stream.bit_rate = VOICE_BITRATE
                resampler = av.AudioResampler(format="s16", layout="mono", rate=VOICE_RATE)
                frames = [
                    *(f for frame in source.decode(source.streams.audio[0])
                      for f in resampler.resample(frame)),
                    *resampler.resample(None),
                ]  # fmt: skip
                for frame in frames:
                    if samples >= max_seconds * VOICE_RATE:
                        break
                    pcm = array.array("h", bytes(frame.planes[0])[: frame.samples * 2])
                    for start in range(0, len(pcm), step):
                        chunk = pcm[start : start + step]
                        peaks.append(max(max(chunk), -min(chunk)) if chunk else 0)
                    samples += frame.samples
                    for packet in stream.encode(frame):
                        sink.mux(packet)
                for packet in stream.encode(None):
                    sink.mux(packet)
    except av.FFmpegError as exc:
        raise Unreadable(str(exc)) from None
    if not samples:
        raise Unreadable("no speech")
    return Clip(out.getvalue(), samples / VOICE_RATE, waveform(peaks))


def waveform(peaks: Sequence[int]) -> bytes:
    """At most :data:`WAVEFORM_MAX` bytes of loudness, each the loudest of its share of the
    peaks, scaled so the loudest is 255."""
    if not peaks:
        return b"\x00"
    count = min(WAVEFORM_MAX, len(peaks))
    shares = [
        max(peaks[i * len(peaks) // count : max((i + 1) * len(peaks) // count, i * len(peaks) // count + 1)])
        for i in range(count)
    ]  # fmt: skip
    loudest = max(shares) or 1
    return bytes(min(255, round(255 * s / loudest)) for s in shares)


# -- What speech costs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Paid:
    """A transcription or a reading-out let through: its limiter ticket and money held."""

    guild_id: int | None
    user_id: int
    hold: Hold | None = None


class Meter:
    """Speech checked and paid like a model request: each transcription or reading-out is one
    request against the person's per-minute limits (before anything is downloaded or sent);
    where ``MODEL_PRICES`` prices its model (``/min`` heard, ``/Mchars`` spoken), its worst
    case is held against the daily budgets first and settled with the real figure after, and
    the cost shows in ``/usage``. While a budget is set, a speech model with no price is
    refused, as chat models are."""

    def __init__(
        self,
        limiter: Limiter,
        spending: Spending | None,
        prices: Mapping[str, float],
        record: Callable[[int | None, int, float], Awaitable[None]],
    ) -> None:
        self.limiter, self.spending, self.prices, self.record = limiter, spending, prices, record

    def toll(self, guild_id: int | None, user_id: int, model: str) -> Toll:
        """The :class:`Toll` of one person's work with ``model``."""
        return _Toll(self, guild_id, user_id, model)

    async def enter(
        self, guild_id: int | None, user_id: int, model: str, amount: float
    ) -> Paid | Refusal:
        """Let one through, whose price is at most ``amount`` units (minutes, Mchars)."""
        price = self.prices.get(model)
        if self.spending is not None and price is None:
            return Refusal.UNPRICED
        from bot.core.ratelimit.base import scope_of

        decision = await self.limiter.acquire(scope_of(guild_id, user_id), user_id, 0)
        if decision.wait > 0:
            return Refusal.LIMITED
        if self.spending is None or price is None:
            return Paid(guild_id, user_id)
        verdict = await self.spending.reserve(user_id, guild_id, price * amount)
        if verdict.hold is None:
            return Refusal.OVER_BUDGET
        return Paid(guild_id, user_id, verdict.hold)

    async def leave(self, paid: Paid, model: str, amount: float) -> None:
        """Settle what it really cost: ``amount`` units (0: nothing was done)."""
        cost = self.prices.get(model, 0.0) * amount
        if paid.hold is not None and self.spending is not None:
            await self.spending.settle(paid.hold, cost)
        if cost:
            await self.record(paid.guild_id, paid.user_id, cost)


@dataclass(frozen=True, slots=True)
class _Toll:
    meter: Meter
    guild_id: int | None
    user_id: int
    model: str

    async def enter(self, amount: float) -> Paid | Refusal:
        return await self.meter.enter(self.guild_id, self.user_id, self.model, amount)

    async def leave(self, paid: Paid, amount: float) -> None:
        await self.meter.leave(paid, self.model, amount)
