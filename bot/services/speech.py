"""Speech through the OpenAI-compatible audio API: ``POST /audio/transcriptions`` on the chat
API's client (or on ``AUDIO_BASE_URL``, for a speech server of its own: faster-whisper, whisper.cpp's
server, vLLM), with the errors the core knows (:class:`bot.core.audio.SpeechError`)."""

from __future__ import annotations

import logging

import openai
from openai import AsyncOpenAI

from bot.core.audio import SpeechError, Transcript

log = logging.getLogger(__name__)

TRANSCRIBE_SECONDS = 120.0  # one transcription, upload included
REFUSED = range(400, 500)  # the server will not; but these may pass: asked again later
PASSING = (408, 409, 429)


class Speech:
    """Transcribes recordings with one model, and speaks text with another (either may be
    None: not offered), through one client."""

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str | None,
        tts_model: str | None = None,
        voice: str = "alloy",
    ) -> None:
        self.client = client
        self.model = model
        self.tts_model = tts_model
        self.voice = voice
        # verbose_json names the language heard (whisper-1, faster-whisper, whisper.cpp);
        # servers and models that refuse it (gpt-4o-transcribe) get plain json from then on.
        self.verbose = True

    @classmethod
    def on(
        cls,
        client: AsyncOpenAI,
        *,
        model: str | None,
        base_url: str | None,
        api_key: str | None,
        tts_model: str | None = None,
        voice: str = "alloy",
    ) -> Speech:
        """On the chat API's client, or a copy of it for ``base_url`` (sharing its connection
        pool, so the process still has one HTTP client)."""
        if base_url is not None:
            client = client.with_options(base_url=base_url, api_key=api_key or client.api_key)
        return cls(client, model=model, tts_model=tts_model, voice=voice)

    async def speak(self, text: str) -> bytes:
        """``POST /audio/speech``: the text spoken, as the server encodes it (Opus asked for)."""
        assert self.tts_model is not None
        try:
            response = await self.client.audio.speech.create(
                model=self.tts_model, voice=self.voice, input=text, response_format="opus",
                timeout=TRANSCRIBE_SECONDS,
            )  # fmt: skip
        except openai.APIStatusError as exc:
            status = exc.status_code
            raise SpeechError(
                f"HTTP {status}", refused=status in REFUSED and status not in PASSING
            ) from None
        except openai.APIError as exc:
            raise SpeechError(type(exc).__name__, refused=False) from None
        return response.content

    async def transcribe(self, data: bytes, filename: str, content_type: str | None) -> Transcript:
        """The recording's words (and language, where the server names it). A server that
        refuses ``verbose_json`` is asked again for ``json``, and only that from then on."""
        if not self.verbose:
            return await self._transcribe(data, filename, content_type, verbose=False)
        try:
            return await self._transcribe(data, filename, content_type, verbose=True)
        except SpeechError as error:
            if not error.bad_request:
                raise
        transcript = await self._transcribe(data, filename, content_type, verbose=False)
        log.info("%s refused verbose_json and took json: json from now on", self.model)
        self.verbose = False
        return transcript

    async def _transcribe(
        self, data: bytes, filename: str, content_type: str | None, *, verbose: bool
    ) -> Transcript:
        assert self.model is not None
        try:
            result = await self.client.audio.transcriptions.create(
                model=self.model,
                file=(filename, data, content_type or "application/octet-stream"),
                response_format="verbose_json" if verbose else "json",
                timeout=TRANSCRIBE_SECONDS,
            )
        except openai.APIStatusError as exc:
            status = exc.status_code
            raise SpeechError(
                f"HTTP {status}",
                refused=status in REFUSED and status not in PASSING,
                bad_request=status == 400,
            ) from None
        except openai.APIError as exc:  # no answer: the connection failed, or timed out
            raise SpeechError(type(exc).__name__, refused=False) from None
        language = getattr(result, "language", None)
        return Transcript(result.text, language if isinstance(language, str) else None)
