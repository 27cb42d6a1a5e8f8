"""Images for vision models: preparing, counting, and which ones a full history leaves out."""

from __future__ import annotations

import io

import pytest
from PIL import Image as Pillow

from bot import images
from bot.context import ChatRequest
from bot.store import Image, Turn, TurnStatus


def encoded(size, fmt="PNG", mode="RGB") -> bytes:
    out = io.BytesIO()
    Pillow.new(mode, size).save(out, fmt)
    return out.getvalue()


def test_a_small_image_is_sent_as_it_came():
    data = encoded((100, 50))
    assert images.prepare(data, 1024) == Image("image/png", data, 100, 50)


@pytest.mark.parametrize(
    ("data", "mime", "size"),
    [
        (encoded((2000, 1000)), "image/jpeg", (1024, 512)),  # downscaled
        (encoded((2000, 1000), mode="RGBA"), "image/png", (1024, 512)),  # transparency kept
        (encoded((40, 40), "GIF", "P"), "image/jpeg", (40, 40)),  # a GIF's first frame
    ],
)
def test_prepare_reencodes_what_it_must(data, mime, size):
    prepared = images.prepare(data, 1024)
    assert (prepared.mime, (prepared.width, prepared.height)) == (mime, size)
    assert Pillow.open(io.BytesIO(prepared.data)).size == size


def test_what_is_not_an_image_is_not_prepared():
    assert images.prepare(b"\x89PNG but not really", 1024) is None


@pytest.mark.parametrize(
    ("model", "size", "tokens"),
    [
        ("gpt-4o", (1024, 1024), 85 + 170 * 4),  # OpenAI's example: 768 × 768, four tiles
        ("gpt-4o", (2048, 4096), 85 + 170 * 6),  # 1024 × 2048 → 768 × 1536: six tiles
        ("gpt-4o-mini", (512, 512), 2833 + 5667),
        ("gpt-4.1-mini", (1024, 1024), 1659),  # 32 × 32 patches × 1.62
        ("gpt-4.1-mini", (1800, 2400), 2353),  # OpenAI's example: 1,452 patches × 1.62
        ("llava:13b", (280, 280), 100),  # the stated estimate: one token per 28 × 28 px
    ],
)
def test_token_costs(model, size, tokens):
    assert images.tokens(model, *size) == tokens


def turn(seq, role="user"):
    return Turn(seq, 1, seq, role, f"t{seq}", None, 5, TurnStatus.COMPLETE)


def test_older_images_are_the_first_left_out():
    kept = [turn(3), turn(2, "assistant"), turn(1)]  # newest first
    messages = [{"role": "system", "content": "p"}] + [
        {"role": t.role, "content": t.content} for t in reversed(kept)
    ]
    request = ChatRequest(messages, prompt_tokens=100, turns=3)
    picture = Image("image/png", b"x", 512, 512)  # 85 + 170 tokens for gpt-4o
    images.attach(request, kept, {3: [picture], 1: [picture]}, "gpt-4o", room=300)
    assert isinstance(request.messages[-1]["content"], list)  # the newest got its image
    assert request.messages[1]["content"] == "t1"  # no room left for the older one
    assert (request.images, request.prompt_tokens) == (1, 100 + 255)
