"""Images for vision models: preparing, counting, and which ones a full history leaves out."""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
import threading
import warnings
import zlib

import pytest
from PIL import Image as Pillow
from PIL import ImageFile

from bot.core import images
from bot.core.context import ChatRequest
from bot.core.images import Refusal
from bot.core.store import Image, Turn, TurnStatus


def encoded(size, fmt="PNG", mode="RGB") -> bytes:
    out = io.BytesIO()
    Pillow.new(mode, size).save(out, fmt)
    return out.getvalue()


def declared_png(width: int, height: int) -> bytes:
    """A whole 1-bit PNG of ``width`` × ``height`` black pixels, made without holding them: a
    20,000² one is 50 MB of pixels to Pillow (a byte each: 400 MB decoded) and 50 kB on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte, then the row's bits
    rows = max(1, 1_000_000 // len(row))  # a megabyte at a time
    parts = [packer.compress(row * min(rows, height - n)) for n in range(0, height, rows)]
    idat = b"".join(parts) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def count_decodes(monkeypatch) -> list[tuple[str, tuple[int, int]]]:
    """Every decode Pillow does from now on (format, size decoded at), in any thread."""
    seen: list[tuple[str, tuple[int, int]]] = []
    load = ImageFile.ImageFile.load

    def counted(self):
        if self._im is None or self.tile:  # a decode, not an already loaded image
            seen.append((self.format, self.size))
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted)
    return seen


@pytest.fixture
def decodes(monkeypatch) -> list[tuple[str, tuple[int, int]]]:
    return count_decodes(monkeypatch)


def test_a_small_image_is_sent_as_it_came():
    data = encoded((100, 50))
    assert images.prepare(data, 1024) == Image("image/png", data, 100, 50)


@pytest.mark.parametrize(
    ("data", "mime", "size"),
    [
        (encoded((300, 200), "JPEG"), "image/jpeg", (300, 200)),  # as it came
        (encoded((300, 200), "WEBP"), "image/webp", (300, 200)),
        (encoded((2000, 1000)), "image/jpeg", (1024, 512)),  # downscaled
        (encoded((2000, 1000), "WEBP"), "image/jpeg", (1024, 512)),
        (encoded((2000, 1000), mode="RGBA"), "image/png", (1024, 512)),  # transparency kept
        (encoded((2000, 1000), mode="P"), "image/jpeg", (1024, 512)),  # a palette
        (encoded((2000, 1000), mode="I;16"), "image/jpeg", (1024, 512)),  # 16-bit grey
        (encoded((40, 40), "GIF", "P"), "image/jpeg", (40, 40)),  # a GIF's first frame
        (encoded((3000, 1500), "GIF", "P"), "image/jpeg", (1024, 512)),
        (encoded((4000, 3000), "JPEG", "CMYK"), "image/jpeg", (1024, 768)),
    ],
)
def test_prepare_reencodes_what_it_must(data, mime, size):
    prepared = images.prepare(data, 1024)
    assert (prepared.mime, (prepared.width, prepared.height)) == (mime, size)
    assert Pillow.open(io.BytesIO(prepared.data)).size == size


def noise(size, fmt="PNG") -> bytes:
    out = io.BytesIO()
    Pillow.effect_noise(size, 64).convert("RGB").save(out, fmt)
    return out.getvalue()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (b"\x89PNG but not really", Refusal.NOT_ALLOWED),
        (b"", Refusal.NOT_ALLOWED),
        (encoded((100, 50), "TIFF"), Refusal.NOT_ALLOWED),  # Pillow reads it; we don't
        (encoded((100, 50), "BMP"), Refusal.NOT_ALLOWED),
        (encoded((100, 50), "ICO"), Refusal.NOT_ALLOWED),
        (truncated(noise((200, 200))), Refusal.BROKEN),  # small: it would go as it came
        (truncated(noise((2000, 1000))), Refusal.BROKEN),
        (truncated(noise((2000, 1000), "JPEG")), Refusal.BROKEN),
        (declared_png(8000, 6000), Refusal.TOO_MANY_PIXELS),  # 48 MP: past ours, not Pillow's
        (declared_png(20_000, 20_000), Refusal.TOO_MANY_PIXELS),  # past Pillow's own too
        (declared_png(1, 50_000_000), Refusal.TOO_MANY_PIXELS),  # a thin one
    ],
)
def test_what_cannot_be_read_is_refused_without_decoding(data, refusal, decodes):
    assert images.read(data, 1024) is refusal
    assert images.prepare(data, 1024) is None
    if refusal is not Refusal.BROKEN:
        assert decodes == []  # refused from the header


def test_a_jpeg_is_decoded_at_a_smaller_scale_and_a_png_reduced_before_converting(
    decodes, monkeypatch
):
    assert images.prepare(encoded((4000, 3000), "JPEG"), 1024).width == 1024
    assert decodes == [("JPEG", (2000, 1500))]  # draft: 1/2 scale still fits 1024
    decodes.clear()
    assert images.prepare(encoded((6000, 4000), "JPEG"), 500).width == 500
    assert decodes == [("JPEG", (750, 500))]  # 1/8

    converted = []
    convert = Pillow.Image.convert
    monkeypatch.setattr(
        Pillow.Image,
        "convert",
        lambda self, *a, **k: converted.append(self.size) or convert(self, *a, **k),
    )
    decodes.clear()
    assert images.prepare(encoded((4000, 2000)), 1024).width == 1024
    assert decodes == [("PNG", (4000, 2000))]  # PNG has no smaller scale to decode at
    assert converted == [(1024, 512)]  # but only the thumbnail is converted


@pytest.mark.parametrize(
    ("error", "refusal"),
    [
        (Pillow.DecompressionBombError("too big"), Refusal.TOO_MANY_PIXELS),
        (Pillow.DecompressionBombWarning("too big"), Refusal.TOO_MANY_PIXELS),
        (Pillow.UnidentifiedImageError("what?"), Refusal.NOT_ALLOWED),
        (OSError("image file is truncated"), Refusal.BROKEN),
        (ValueError("bad"), Refusal.BROKEN),
        (SyntaxError("not a PNG file"), Refusal.BROKEN),
        (struct.error("unpack requires a buffer"), Refusal.BROKEN),
        (MemoryError(), Refusal.BROKEN),
        (EOFError(), Refusal.BROKEN),
        (zlib.error("invalid stored block lengths"), Refusal.BROKEN),
        (RuntimeError("a decoder's own bug"), Refusal.BROKEN),
    ],
)
def test_every_pillow_error_is_a_refusal(monkeypatch, error, refusal):
    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(Pillow, "open", fails)
    assert images.read(encoded((100, 50)), 1024) is refusal


async def test_the_decoder_turns_pillows_bomb_warning_into_a_refusal():
    decoder = images.Decoder(1024)
    data = declared_png(10_000, 9_500)  # 95 MP: Pillow warns; the warning is an error now
    with warnings.catch_warnings():
        warnings.simplefilter("error", Pillow.DecompressionBombWarning)  # as the decoder sets
        assert await decoder.prepare(data) is None
    assert decoder.refused == {Refusal.TOO_MANY_PIXELS: 1}


async def test_the_decoder_runs_a_few_decodes_at_once_and_refuses_past_its_queue(monkeypatch):
    release = threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()

    def slow(data, max_side):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(10)
        with lock:
            running[0] -= 1
        return Image("image/png", data, 1, 1)

    monkeypatch.setattr(images, "read", slow)
    decoder = images.Decoder(1024, at_once=2, waiting=3)
    started = [asyncio.create_task(decoder.prepare(bytes([n]))) for n in range(5)]
    await asyncio.sleep(0)  # each has started
    assert decoder._waiting == 3  # two decoding, three waiting
    assert await decoder.prepare(b"one too many") is None
    assert decoder.refused == {Refusal.BUSY: 1}
    release.set()
    assert [p.data for p in await asyncio.gather(*started)] == [bytes([n]) for n in range(5)]
    assert most[0] == 2


async def test_a_cancelled_reader_keeps_its_decode_slot_until_the_decode_ends(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(images, "read", lambda data, side: release.wait(10) and None)
    decoder = images.Decoder(1024, at_once=1, wait=0)
    first = asyncio.create_task(decoder.prepare(b"1"))
    await asyncio.sleep(0)  # it has started
    assert decoder._slots.locked()
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert await decoder.prepare(b"2") is None  # the thread still decodes: no slot, no wait
    assert decoder.refused == {Refusal.BUSY: 1}
    release.set()


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
