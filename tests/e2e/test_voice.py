"""End to end: voice messages and audio files in, transcribed and answered like text. The audio
is real speech (espeak-ng, encoded with PyAV: ``tests/fakes/audio``), and the fake OpenAI server
decodes every upload to check what it got."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path

import av
import pytest

from bot.core import texts
from bot.core.refusal import Refusal
from bot.core.store import Scope
from tests.e2e.test_chat import ask, reply_done, texts_in
from tests.e2e.test_commands import private_answer
from tests.e2e.test_images import png
from tests.fakes.discord_server import VOICE_MESSAGE
from tests.fakes.openai_server import Script

AUDIO = Path(__file__).resolve().parents[1] / "fakes" / "audio"
WHAT_TIME = (AUDIO / "what-time.ogg").read_bytes()  # "What time is it in Tokyo?", 2.0 s
NOTES = (AUDIO / "notes.mp3").read_bytes()  # "Please summarise the notes from yesterday.", 2.8 s
EN = texts.EN
PNG = png()
SPEECH = {"TRANSCRIBE_MODEL": "whisper-1"}


async def conversation(fake_discord, fake_openai, world) -> int:
    thread_id = await ask(fake_discord, world, "hi")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    return thread_id


def downloads(fake_discord) -> list[str]:
    return [r.path for r in fake_discord.requests if r.path.startswith("/attachments/")]


async def test_a_voice_message_is_transcribed_and_answered(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot(**SPEECH)
    thread_id = await conversation(fake_discord, fake_openai, world)
    fake_openai.transcripts.append("What time is it in Tokyo?")
    fake_openai.respond(Script(text="It is 21:00 in Tokyo."))
    message = await fake_discord.user_says(thread_id, world.alice, "", voice=(WHAT_TIME, 2.0))
    heard = EN.heard("What time is it in Tokyo?")
    await reply_done(fake_discord, thread_id, f"{heard}\nIt is 21:00 in Tokyo.", count=2)

    (upload,) = fake_openai.transcriptions
    assert upload["model"] == "whisper-1" and upload["filename"] == "voice-message.ogg"
    assert upload["seconds"] == pytest.approx(2.0, rel=0.1)  # the real recording went up
    asked = fake_openai.requests[-1]["messages"][-1]
    assert asked["content"] == (  # the language heard, so that the reply follows it
        "[audio voice-message.ogg, transcribed]\n> (spoken in English)\n> What time is it in Tokyo?"
    )
    assert upload["response_format"] == "verbose_json"
    stored = await bot.core.conversations.user_turn(int(message["id"]))
    assert stored is not None and stored.content == asked["content"]  # the words, not the audio


async def test_an_audio_file_with_a_mention_opens_a_conversation(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(**SPEECH)
    fake_openai.transcripts.append("Please summarise the notes from yesterday.")
    fake_openai.respond(Script(text="Here they are."))
    message = await fake_discord.user_says(
        world.channel, world.alice, "this one", mention_bot=True,
        files=[("notes.mp3", NOTES, "audio/mpeg")],
    )  # fmt: skip
    thread_id = int(message["id"])
    heard = EN.heard("Please summarise the notes from yesterday.")
    await reply_done(fake_discord, thread_id, f"{heard}\nHere they are.")
    (upload,) = fake_openai.transcriptions
    assert upload["filename"] == "notes.mp3" and upload["seconds"] == pytest.approx(2.8, rel=0.1)
    assert fake_openai.requests[-1]["messages"][-1]["content"] == (
        "this one\n\n[audio notes.mp3, transcribed]\n> (spoken in English)\n"
        "> Please summarise the notes from yesterday."
    )


@pytest.mark.parametrize(
    ("env", "stated", "answers", "reason", "downloaded"),
    [
        (SPEECH, 600.0, [], Refusal.TOO_LONG, False),  # Discord's stated length: not fetched
        ({}, 2.0, [], Refusal.NO_SPEECH, False),  # no speech model set up
        (SPEECH, 2.0, [400, 400], Refusal.SPEECH_REFUSED, True),  # verbose_json, then json
        (SPEECH, 2.0, [503], Refusal.SPEECH_FAILED, True),
        (SPEECH, 2.0, ["  "], Refusal.SILENT, True),
        ({**SPEECH, "AUDIO_MAX_SECONDS": "1"}, 0.5, [], Refusal.TOO_LONG, True),  # it lied
        ({**SPEECH, "USER_RPM": "1"}, 2.0, [], Refusal.LIMITED, False),  # the reply took it
        (
            {**SPEECH, "USER_DAILY_BUDGET": "1", "MODEL_PRICES": "gpt-4o-mini=0.15/0.60"},
            2.0,
            [],
            Refusal.UNPRICED,
            False,
        ),  # a budget, and no price for whisper-1
    ],
    ids=[
        "too long",
        "no speech model",
        "refused",
        "failed",
        "silent",
        "longer than stated",
        "rate limited",
        "unpriced",
    ],
)
async def test_a_voice_message_not_heard_gets_its_note_and_no_model_call(
    fake_discord, fake_openai, world, start_bot, env, stated, answers, reason, downloaded
):
    await start_bot(**env)
    thread_id = await conversation(fake_discord, fake_openai, world)
    fake_openai.transcripts.extend(answers)
    await fake_discord.user_says(thread_id, world.alice, "", voice=(WHAT_TIME, stated))
    limit = float(env.get("AUDIO_MAX_SECONDS", 300))
    note = EN.audio_refused(reason, limit)
    await fake_discord.wait_for(lambda: note in texts_in(fake_discord, thread_id))
    assert len(fake_openai.requests) == 1  # the first reply's only
    assert bool(downloads(fake_discord)) is downloaded
    assert len(fake_openai.transcriptions) == len(answers)


async def test_a_recording_not_heard_beside_text_is_answered_with_a_note(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()  # no speech model
    thread_id = await conversation(fake_discord, fake_openai, world)
    fake_openai.respond(Script(text="I read your text."))
    await fake_discord.user_says(
        thread_id, world.alice, "and this", files=[("notes.mp3", NOTES, "audio/mpeg")]
    )
    note = EN.audio_refused(Refusal.NO_SPEECH, 300)
    await reply_done(fake_discord, thread_id, f"I read your text.\n\n{note}", count=2)
    assert fake_openai.requests[-1]["messages"][-1]["content"] == (
        "and this\n\n[attached audio: notes.mp3 (not transcribed)]"
    )


async def test_a_person_without_access_is_not_listened_to(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(**SPEECH, BLOCKED_USERS=str(world.bob.id))
    thread_id = await conversation(fake_discord, fake_openai, world)
    await fake_discord.user_says(thread_id, world.bob, "", voice=(WHAT_TIME, 2.0))
    await fake_discord.user_says(thread_id, world.alice, "still there?")
    await fake_discord.wait_for(lambda: len(fake_openai.requests) == 2)
    await fake_discord.wait_for(lambda: texts_in(fake_discord, thread_id)[-1:] == [
        fake_openai.default.text
    ] and len(texts_in(fake_discord, thread_id)) >= 2)  # fmt: skip
    assert downloads(fake_discord) == [] and fake_openai.transcriptions == []
    assert "still there?" in fake_openai.requests[-1]["messages"][-1]["content"]
    assert not any("voice" in m["content"] for m in fake_openai.requests[-1]["messages"])


def voice_messages(fake_discord, channel_id: int) -> list[dict]:
    return [m for m in fake_discord.bot_messages(channel_id) if m["flags"] & VOICE_MESSAGE]


async def test_speak_posts_the_reply_as_a_real_voice_message(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(TTS_MODEL="tts-1", TTS_VOICE="nova")
    fake_openai.respond(Script(text="Tokyo is **nine hours** ahead.\n```py\nprint(9)\n```"))
    thread_id = await ask(fake_discord, world, "how far ahead is Tokyo?")
    await reply_done(
        fake_discord, thread_id, "Tokyo is **nine hours** ahead.\n```py\nprint(9)\n```"
    )
    (answer,) = fake_discord.bot_messages(thread_id)
    (button,) = [c for row in answer["components"] for c in row["components"]]
    assert button["custom_id"].startswith("speak:") and button["label"] == EN.speak_button

    await fake_discord.click(answer, world.bob)  # anyone who may use the bot here
    (voice,) = await fake_discord.wait_for(lambda: voice_messages(fake_discord, thread_id))
    assert voice["content"] == "" and str(voice["message_reference"]["message_id"]) == answer["id"]
    (sent,) = fake_openai.spoken
    assert sent == {"model": "tts-1", "voice": "nova", "response_format": "opus",
                    "input": "Tokyo is nine hours ahead. (code)"}  # fmt: skip
    (attachment,) = voice["attachments"]
    assert attachment["filename"] == "voice-message.ogg"
    data = fake_discord.files[attachment["url"].rsplit("/", 1)[1]]
    with av.open(io.BytesIO(data)) as container:  # Opus in OGG, as Discord's clients record
        assert container.format.name == "ogg"
        assert container.streams.audio[0].codec_context.name == "opus"
        decoded = sum(f.samples / f.sample_rate for f in container.decode(audio=0))
    assert attachment["duration_secs"] == pytest.approx(decoded, rel=0.1)
    assert decoded == pytest.approx(2.0, rel=0.1)  # the fake spoke real speech, 2 s
    waveform = base64.b64decode(attachment["waveform"])
    assert 1 <= len(waveform) <= 256 and max(waveform) == 255  # loudness, scaled


async def test_speak_refused_or_failing_says_so_privately(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(TTS_MODEL="tts-1", BLOCKED_USERS=str(world.bob.id))
    thread_id = await ask(fake_discord, world, "hi")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    (answer,) = fake_discord.bot_messages(thread_id)
    token = await fake_discord.click(answer, world.bob)  # the operator's lists: refused
    (refused,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert refused["data"]["flags"] & 64 and fake_openai.spoken == []

    fake_openai.speech.append(500)
    await fake_discord.click(answer, world.alice)
    failed = EN.speak_failed(Refusal.SPEECH_FAILED)
    await fake_discord.wait_for(lambda: any(
        failed in json.dumps(r.body, ensure_ascii=False) for r in fake_discord.requests
        if r.path.startswith("/webhooks/")
    ))  # fmt: skip
    assert voice_messages(fake_discord, thread_id) == []


async def test_ask_about_a_message_quotes_it_with_its_image_and_recording(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(**SPEECH, VISION_MODELS="gpt-4o-mini")
    target = await fake_discord.user_says(
        world.channel, world.bob, "here is the plan",
        files=[("plan.png", PNG, "image/png"), ("notes.mp3", NOTES, "audio/mpeg")],
    )  # fmt: skip
    fake_openai.transcripts.append("Please summarise the notes from yesterday.")
    fake_openai.respond(Script(text="Bob's plan: ship on Friday."))
    token = await fake_discord.use_on_message(target, world.alice, "Ask about this")
    (form,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert form["type"] == 9 and form["data"]["title"] == EN.ask_title  # a modal
    await fake_discord.submit_modal(token, world.alice, {"question": "what is the plan?"})
    echo = await fake_discord.wait_for(lambda: next(
        (m for m in fake_discord.bot_messages(world.channel) if "asked about" in m["content"]),
        None,
    ))  # fmt: skip
    thread_id = int(echo["id"])
    heard = EN.heard("Please summarise the notes from yesterday.")
    await reply_done(fake_discord, thread_id, f"{heard}\nBob's plan: ship on Friday.")
    asked = fake_openai.requests[-1]["messages"][-1]
    parts = asked["content"]
    assert isinstance(parts, list)  # text and the image, for a vision model
    text = next(p["text"] for p in parts if p["type"] == "text")
    assert text.startswith("[asking about a message by bob]\n> here is the plan")
    assert "> [audio notes.mp3, transcribed]" in text and text.endswith("what is the plan?")
    assert any(p["type"] == "image_url" for p in parts)


async def test_minutes_heard_are_paid_for_against_the_budget(
    fake_discord, fake_openai, world, start_bot
):
    prices = "gpt-4o-mini=0.15/0.60, whisper-1=6/min"  # dear, so the figure shows
    bot = await start_bot(**SPEECH, MODEL_PRICES=prices, USER_DAILY_BUDGET="5")
    thread_id = await conversation(fake_discord, fake_openai, world)
    store, day = bot.services.store, dt.datetime.now(dt.UTC).date()
    before = await store.spent_by(user_id=world.alice.id, day=day)
    await fake_discord.user_says(thread_id, world.alice, "", voice=(WHAT_TIME, 2.0))
    await fake_discord.wait_for(lambda: len(texts_in(fake_discord, thread_id)) == 2)
    await reply_done(fake_discord, thread_id, f"{EN.heard('Hello from a recording.')}\n"
                     f"{fake_openai.default.text}", count=2)  # fmt: skip
    spent = await store.spent_by(user_id=world.alice.id, day=day) - before
    heard = 6 * 2.0 / 60  # two seconds at $6 a minute
    assert spent == pytest.approx(heard, rel=0.1) or spent > heard  # and the reply's tokens
    assert spent < heard * 1.2

    # Past the budget's worst case (300 s at $6 a minute = $30 > $5): refused before download.
    before_downloads = len(downloads(fake_discord))
    await fake_discord.user_says(thread_id, world.alice, "", voice=(WHAT_TIME, None))
    note = EN.audio_refused(Refusal.OVER_BUDGET, 300)
    await fake_discord.wait_for(lambda: note in texts_in(fake_discord, thread_id))
    assert len(downloads(fake_discord)) == before_downloads


async def test_voice_on_reads_each_reply_out_and_its_starter_chooses(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot(TTS_MODEL="tts-1")
    thread_id = await conversation(fake_discord, fake_openai, world)
    token = await fake_discord.invoke(thread_id, world.bob, "voice", "on")
    assert "**Manage Threads**" in await private_answer(fake_discord, token)  # not his
    token = await fake_discord.invoke(thread_id, world.alice, "voice", "on")
    assert await private_answer(fake_discord, token) == EN.voice_set(Scope.CONVERSATION, True)

    fake_openai.respond(Script(text="Spoken as well as written."))
    await ask(fake_discord, world, "and now?", channel=thread_id, mention=False)
    (voice,) = await fake_discord.wait_for(lambda: voice_messages(fake_discord, thread_id))
    reply = fake_discord.bot_messages(thread_id)[1]
    assert reply["content"] == "Spoken as well as written."
    assert str(voice["message_reference"]["message_id"]) == reply["id"]  # under its reply
    assert fake_openai.spoken[-1]["input"] == "Spoken as well as written."
    token = await fake_discord.invoke(thread_id, world.bob, "voice", "show")
    shown = await private_answer(fake_discord, token)
    assert shown == EN.voice_shown(True, Scope.CONVERSATION)

    token = await fake_discord.invoke(thread_id, world.alice, "voice", "off")
    await private_answer(fake_discord, token)
    await ask(fake_discord, world, "quietly", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=4)  # (the voice: 3)
    assert len(voice_messages(fake_discord, thread_id)) == 1 and len(fake_openai.spoken) == 1


async def test_a_speech_model_without_verbose_json_gets_plain_json(
    fake_discord, fake_openai, world, start_bot
):
    fake_openai.verbose_json = False  # as gpt-4o-transcribe answers
    await start_bot(TRANSCRIBE_MODEL="gpt-4o-transcribe")
    thread_id = await conversation(fake_discord, fake_openai, world)
    for number in (2, 3):
        fake_openai.transcripts.append("Hello there.")
        await fake_discord.user_says(thread_id, world.alice, "", voice=(WHAT_TIME, 2.0))
        await fake_discord.wait_for(lambda n=number: len(fake_openai.requests) == n)
    formats = [t["response_format"] for t in fake_openai.transcriptions]
    assert formats == ["verbose_json", "json", "json"]  # asked once, then remembered
    assert fake_openai.requests[-1]["messages"][-1]["content"] == (
        "[audio voice-message.ogg, transcribed]\n> Hello there."
    )


async def test_ask_about_a_voice_message(fake_discord, fake_openai, world, start_bot):
    await start_bot(**SPEECH)
    target = await fake_discord.user_says(world.channel, world.bob, "", voice=(WHAT_TIME, 2.0))
    fake_openai.transcripts.append("What time is it in Tokyo?")
    fake_openai.respond(Script(text="Bob asked for Tokyo's time."))
    token = await fake_discord.use_on_message(target, world.alice, "Ask about this")
    await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    await fake_discord.submit_modal(token, world.alice, {"question": "what did he ask?"})
    await fake_discord.wait_for(lambda: len(fake_openai.requests) == 1)
    assert fake_openai.requests[0]["messages"][-1]["content"] == (
        "[asking about a message by bob]\n"
        "> [audio voice-message.ogg, transcribed]\n> > (spoken in English)\n"
        "> > What time is it in Tokyo?\n\nwhat did he ask?"
    )
    (upload,) = fake_openai.transcriptions
    assert upload["seconds"] == pytest.approx(2.0, rel=0.1)
