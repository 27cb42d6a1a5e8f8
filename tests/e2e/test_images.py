"""End to end: images reach vision models as data: URLs; other models get the text and a note."""

from __future__ import annotations

import asyncio
import base64
import io

from PIL import Image

from bot.core.images import Refusal
from tests.bot.core.test_images import count_decodes, declared_png
from tests.e2e.test_chat import reply_done, texts_in
from tests.fakes.discord_payloads import message_payload, snowflake
from tests.fakes.openai_server import Script

NOTE = "*(this model can't see images: I read only the text)*"


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def image_parts(request) -> list[dict]:
    content = request["messages"][-1]["content"]
    return [] if isinstance(content, str) else [p for p in content if p["type"] == "image_url"]


async def ask_with_image(fake_discord, world, data: bytes) -> int:
    message = await fake_discord.user_says(
        world.channel, world.alice, "what colour is this?", mention_bot=True,
        files=[("photo.png", data, "image/png")],
    )  # fmt: skip
    return int(message["id"])


async def test_an_image_reaches_a_vision_model_as_the_same_bytes(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()  # gpt-4o-mini sees images
    data = png()
    thread_id = await ask_with_image(fake_discord, world, data)
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    (part,) = image_parts(fake_openai.requests[0])
    prefix = "data:image/png;base64,"
    assert part["image_url"]["url"].startswith(prefix)
    assert base64.b64decode(part["image_url"]["url"].removeprefix(prefix)) == data
    text = fake_openai.requests[0]["messages"][-1]["content"][0]["text"]
    assert text == "what colour is this?\n\n[attached image: photo.png]"

    # A follow-up can still refer to it: the image is sent again while the budget allows.
    await fake_discord.user_says(thread_id, world.alice, "and now?")
    await fake_openai.wait_for_requests(2)
    history = fake_openai.requests[1]["messages"]
    assert isinstance(history[1]["content"], list) and history[-1]["content"] == "and now?"


async def test_a_large_image_is_downscaled(fake_discord, fake_openai, world, start_bot):
    await start_bot(IMAGE_MAX_SIDE="256")
    thread_id = await ask_with_image(fake_discord, world, png(1000, 500))
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    (part,) = image_parts(fake_openai.requests[0])
    url = part["image_url"]["url"]
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (256, 128)


async def test_a_server_that_refuses_images_gets_the_text_and_the_user_a_note(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    fake_openai.respond(
        Script(status=400, error_message="Invalid content type. image_url is only supported by certain models."),
        Script(text="I read the text."),
    )  # fmt: skip
    thread_id = await ask_with_image(fake_discord, world, png())
    await reply_done(fake_discord, thread_id, f"I read the text.\n\n{NOTE}")
    refused, answered = fake_openai.requests
    assert image_parts(refused) and not image_parts(answered)
    assert not (await bot.core.models.get(bot.core.models.default)).vision  # remembered


async def test_a_model_that_cannot_see_gets_no_image(fake_discord, fake_openai, world, start_bot):
    await start_bot(OPENAI_MODEL="llama3.1:8b", OPENAI_BASE_URL=fake_openai.base_url)
    thread_id = await ask_with_image(fake_discord, world, png())
    await fake_discord.wait_for(lambda: texts_in(fake_discord, thread_id))
    await reply_done(fake_discord, thread_id, f"{fake_openai.default.text}\n\n{NOTE}")
    assert not image_parts(fake_openai.requests[0])


def downloads(fake_discord) -> list[str]:
    """The attachment requests the fake CDN served."""
    return [r.path for r in fake_discord.requests if r.path.startswith("/attachments/")]


async def stored_turn(bot, message_id: int, content: str):
    """The user turn of ``message_id`` once it reads ``content``."""
    for _ in range(500):
        turn = await bot.services.store.user_turn(message_id)
        if turn is not None and turn.content == content:
            return turn
        await asyncio.sleep(0.02)
    raise AssertionError(f"message {message_id} never read {content!r}")


async def test_a_decompression_bomb_is_refused_from_its_header_and_the_text_answered(
    fake_discord, fake_openai, world, start_bot, monkeypatch
):
    bot = await start_bot()
    decodes = count_decodes(monkeypatch)
    bomb = declared_png(20_000, 20_000)  # 400 MP: Pillow would take 400 MB to decode it
    large = declared_png(8_000, 6_000)  # 48 MP: within Pillow's limit, past ours
    assert len(bomb) < 60_000 and len(large) < 10_000
    message = await fake_discord.user_says(
        world.channel, world.alice, "what is in these?", mention_bot=True,
        files=[("bomb.png", bomb, "image/png"), ("large.png", large, "image/png")],
    )  # fmt: skip
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, fake_openai.default.text)  # answered all the same
    text = (
        "what is in these?\n\n[attached image: bomb.png (not readable)]\n\n"
        "[attached image: large.png (not readable)]"
    )
    assert fake_openai.requests[0]["messages"][-1]["content"] == text  # no image sent
    turn = await bot.services.store.user_turn(thread_id)
    assert turn.content == text and await bot.services.store.images_of([turn.seq]) == {}
    assert decodes == []  # refused from the header: not one pixel decoded
    assert bot.get_cog("ChatEvents").reader.decoder.refused == {Refusal.TOO_MANY_PIXELS: 2}


async def test_five_edits_of_a_message_with_an_image_download_it_once(
    fake_discord, fake_openai, world, start_bot
):
    bot = await start_bot()
    data = png()
    message = await fake_discord.user_says(
        world.channel, world.alice, "what colour is this?", mention_bot=True,
        files=[("photo.png", data, "image/png"), ("notes.txt", b"red, I think", "text/plain")],
    )  # fmt: skip
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    assert len(downloads(fake_discord)) == 2  # the image and the text file, once each
    files = "[attached image: photo.png]\n\n[attached file: notes.txt]\n```\nred, I think\n```"
    for n in range(1, 6):
        await fake_discord.user_edits(message, f"{fake_discord.bot_user.mention()} edit {n}")
        await stored_turn(bot, thread_id, f"edit {n}\n\n{files}")
    assert len(downloads(fake_discord)) == 2  # no edit downloaded anything again

    await fake_discord.user_says(thread_id, world.alice, "and now?")
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=2)
    first = fake_openai.requests[1]["messages"][1]["content"]
    assert first[0] == {"type": "text", "text": f"edit 5\n\n{files}"}
    assert base64.b64decode(first[1]["image_url"]["url"].split(",", 1)[1]) == data  # still there
    assert len(downloads(fake_discord)) == 2


async def test_an_edit_of_a_message_that_is_no_stored_turn_downloads_and_writes_nothing(
    fake_discord, fake_openai, world, start_bot, monkeypatch
):
    bot = await start_bot(BLOCKED_USERS=str(world.bob.id))
    thread_id = int(
        (await fake_discord.user_says(world.channel, world.alice, "hi", mention_bot=True))["id"]
    )
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    await fake_discord.wait_for(lambda: not bot.core.replies.busy(thread_id))
    blocked = await fake_discord.user_says(
        thread_id, world.bob, "look", files=[("photo.png", png(), "image/png")]
    )  # refused: not stored
    await fake_discord.wait_for(lambda: fake_discord.bot_messages(thread_id)[1:])  # the notice
    assert await bot.services.store.user_turn(int(blocked["id"])) is None

    queries: list[str] = []
    for method in ("execute", "execute_fetchall", "executemany"):
        run = getattr(bot.services.store.db, method)
        monkeypatch.setattr(
            bot.services.store.db,
            method,
            lambda sql, *a, run=run: queries.append(sql) or run(sql, *a),
        )
    edits: list[bool] = []
    edit = bot.core.replies.edit
    monkeypatch.setattr(bot.core.replies, "edit", lambda *a: _recorded(edits, edit(*a)))
    await fake_discord.user_edits(blocked, "look again")
    await fake_discord.wait_for(lambda: edits)
    assert edits == [False] and downloads(fake_discord) == []
    assert [q.split()[0] for q in queries] == ["SELECT"]  # one lookup, no write


async def _recorded(results: list, awaitable):
    results.append(result := await awaitable)
    return result


async def test_hostile_display_names_are_answered(fake_discord, fake_openai, world, start_bot):
    author = fake_discord.add_member(world.guild, "a\\g<0>")
    mentioned = fake_discord.add_member(world.guild, "x\\1")
    await start_bot()
    content = f"{fake_discord.bot_user.mention()} hello {mentioned.mention()} and <@!{author.id}>"
    message = message_payload(
        message_id=snowflake(), channel_id=world.channel, guild=world.guild, author=author,
        content=content, mentions=[fake_discord.bot_user, mentioned, author],
    )  # fmt: skip
    fake_discord.messages[world.channel].append(message)
    await fake_discord.dispatch("MESSAGE_CREATE", message)
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    asked = fake_openai.requests[0]["messages"][-1]
    assert asked["content"] == "hello @x\\1 and @a\\g<0>"


async def test_an_image_discord_says_is_too_large_is_not_downloaded(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()
    message = await fake_discord.user_says(
        world.channel, world.alice, "and this?", mention_bot=True,
        files=[("huge.png", png(), "image/png")],
    )  # fmt: skip
    thread_id = int(message["id"])
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    assert len(downloads(fake_discord)) == 1
    # Discord's own figures for an attachment: past the cap, it is not even fetched.
    late = message_payload(
        message_id=snowflake(), channel_id=thread_id, guild=world.guild, author=world.alice,
        content="and this one?",
    )  # fmt: skip
    late["attachments"] = [
        {**message["attachments"][0], "id": str(snowflake()), "width": 9000, "height": 9000}
    ]
    fake_discord.messages[thread_id].append(late)
    await fake_discord.dispatch("MESSAGE_CREATE", late)
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=2)
    assert fake_openai.requests[1]["messages"][-1]["content"] == (
        "and this one?\n\n[attached image: huge.png (not readable)]"
    )
    assert len(downloads(fake_discord)) == 1
