"""End to end: images reach vision models as data: URLs; other models get the text and a note."""

from __future__ import annotations

import base64
import io

from PIL import Image

from tests.fakes.openai_server import Script
from tests.test_e2e_chat import reply_done, texts_in

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
    assert not (await bot.models.get(bot.models.default)).vision  # remembered


async def test_a_model_that_cannot_see_gets_no_image(fake_discord, fake_openai, world, start_bot):
    await start_bot(OPENAI_MODEL="llama3.1:8b", OPENAI_BASE_URL=fake_openai.base_url)
    thread_id = await ask_with_image(fake_discord, world, png())
    await fake_discord.wait_for(lambda: texts_in(fake_discord, thread_id))
    await reply_done(fake_discord, thread_id, f"{fake_openai.default.text}\n\n{NOTE}")
    assert not image_parts(fake_openai.requests[0])
