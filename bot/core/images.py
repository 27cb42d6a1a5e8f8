"""Images for vision models: downscaled to a size worth sending, counted in tokens, and sent as
``data:`` URLs (some local servers refuse remote URLs, and Discord's expire).

Token costs follow OpenAI's published rules for its models (tiles of 512 px after scaling to fit
2048 × 2048 and the short side to 768; or 32 px patches for the patch-based minis), with the
figures of each family's row in :mod:`bot.core.catalog`; for other models they are an estimate of
one token per 28 × 28 px patch, as Qwen2-VL counts, since local servers differ and report the real
figure in their usage anyway.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
import struct
import warnings
import zlib
from collections import Counter

from PIL import Image as Pillow

from bot.core.catalog import Patches, Tiles, family
from bot.core.context import ChatRequest
from bot.core.refusal import Refusal
from bot.core.store import Image, Turn

log = logging.getLogger(__name__)

TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
FORMATS = tuple(TYPES)  # the only decoders Pillow may try, whatever the file's name or type says
MAX_BYTES = 20_000_000  # larger files are named, not read
# Pillow only warns past 89 MP (and refuses past 179 MP), yet a PNG of a few dozen kB can declare
# 13,000² px: 1.3 GB to decode and convert (bench/image_rss.py). A decoded pixel takes up to 4
# bytes, so 40 MP (a 6,300² square; phone cameras take 12-24 MP) bounds one decode near 160 MB.
# Checked from the header, before any pixel is decoded.
MAX_PIXELS = 40_000_000
SENT_AS_IS = ("image/png", "image/jpeg", "image/webp")  # every vision API takes these
DECODES_AT_ONCE = 2  # decodes run in worker threads, this many at a time per process
DECODES_WAITING = 16  # past this many waiting, an image is refused rather than queued
DECODE_WAIT = 60.0  # seconds an image may wait for a turn to be decoded
# Pillow's errors for a broken or hostile file (besides its bomb check and unknown formats):
# truncated or corrupt data, and whatever a plugin's parser raises on a crafted header.
PILLOW_ERRORS = (
    OSError, ValueError, SyntaxError, struct.error, MemoryError, EOFError, IndexError, KeyError,
    TypeError, zlib.error,
)  # fmt: skip


def is_image(filename: str, content_type: str | None) -> bool:
    if content_type:
        return content_type.split(";")[0].strip() in TYPES.values()
    return filename.lower().rsplit(".", 1)[-1] in ("png", "jpg", "jpeg", "webp", "gif")


def prepare(data: bytes, max_side: int) -> Image | None:
    """The image as it will be sent, or None when it can't be read (see :func:`read`)."""
    result = read(data, max_side)
    return result if isinstance(result, Image) else None


def read(data: bytes, max_side: int) -> Image | Refusal:
    """The image as it will be sent: the original bytes when they are already small enough and
    in a format every vision API takes (decoded once all the same, to refuse a broken file);
    else (too large, or a GIF: its first frame) re-encoded, downscaled to fit ``max_side``.

    Blocking: run it in a worker thread (:class:`Decoder` does). The format and size come from
    the header (``Pillow.open`` decodes nothing); past :data:`MAX_PIXELS` nothing is decoded.
    A JPEG is decoded at 1/2, 1/4 or 1/8 scale (``draft``) when that still fits ``max_side``;
    other formats are reduced by whole factors (``thumbnail``'s ``reducing_gap``) before any
    conversion, so only the decoded image itself is ever full size."""
    try:
        with Pillow.open(io.BytesIO(data), formats=FORMATS) as picture:
            mime = TYPES.get(picture.format or "")
            width, height = picture.size
            if mime is None:
                return Refusal.NOT_ALLOWED
            if width * height > MAX_PIXELS or width < 1 or height < 1:
                return Refusal.TOO_MANY_PIXELS
            if mime in SENT_AS_IS and max(width, height) <= max_side:
                picture.load()  # small: decoding it proves it is whole
                return Image(mime, data, width, height)
            return _downscaled(picture, max_side)
    except Pillow.UnidentifiedImageError:
        return Refusal.NOT_ALLOWED
    except (Pillow.DecompressionBombError, Pillow.DecompressionBombWarning):
        return Refusal.TOO_MANY_PIXELS  # Pillow's own check, in open(): from the header too
    except PILLOW_ERRORS as exc:
        log.info("Unreadable image (%s): %s", type(exc).__name__, exc)
        return Refusal.BROKEN
    except Exception:  # a decoder bug on a crafted file: still a note, never a lost message
        log.exception("Pillow failed on an image")
        return Refusal.BROKEN


def _downscaled(picture: Pillow.Image, max_side: int) -> Image:
    alpha = _has_alpha(picture)
    if picture.format == "JPEG":  # decode at the smallest scale still at least max_side
        picture.draft("RGB", (max_side, max_side))
    elif picture.format == "GIF":
        picture.seek(0)  # its first frame
    if picture.mode not in ("L", "RGB", "RGBA", "CMYK", "YCbCr"):
        # Palettes, 1-bit and 16-bit images can't be averaged as they are.
        picture = picture.convert("RGBA" if alpha else "RGB")
    picture.thumbnail((max_side, max_side), reducing_gap=2.0)  # reduce() first, then resample
    frame = picture.convert("RGBA" if alpha else "RGB")
    out = io.BytesIO()
    if frame.mode == "RGBA":
        frame.save(out, "PNG", optimize=True)
        return Image("image/png", out.getvalue(), *frame.size)
    frame.save(out, "JPEG", quality=85)
    return Image("image/jpeg", out.getvalue(), *frame.size)


def _has_alpha(picture: Pillow.Image) -> bool:
    return picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info


class Decoder:
    """Prepares images off the event loop, :data:`DECODES_AT_ONCE` at a time: one decoder per
    process (the chat cog's reader builds it), so a burst of large images queues instead of
    decoding in parallel. Past :data:`DECODES_WAITING` waiting, or after ``wait`` seconds of
    waiting, an image is refused (it shows as not readable) rather than held without end."""

    def __init__(
        self,
        max_side: int,
        *,
        at_once: int = DECODES_AT_ONCE,
        waiting: int = DECODES_WAITING,
        wait: float = DECODE_WAIT,
    ) -> None:
        self.max_side = max_side
        self.max_waiting = waiting
        self.wait = wait
        self._slots = asyncio.Semaphore(at_once)
        self._waiting = 0
        self.refused: Counter[Refusal] = Counter()  # bounded: one key per image Refusal
        self.prepared = 0
        # Pillow's own bomb warning (past 89 MP, raised inside Pillow.open) becomes an error
        # (caught as one), set once for the process rather than around each call: catching
        # warnings per call is not thread-safe.
        warnings.filterwarnings("error", category=Pillow.DecompressionBombWarning)

    async def prepare(self, data: bytes) -> Image | None:
        result = await self._read(data)
        if isinstance(result, Refusal):
            self.refused[result] += 1
            return None
        self.prepared += 1
        return result

    async def _read(self, data: bytes) -> Image | Refusal:
        if self._waiting >= self.max_waiting:
            log.warning("Refused an image: %d are waiting to be decoded", self._waiting)
            return Refusal.BUSY
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait):
                await self._slots.acquire()
        except TimeoutError:
            log.warning("Refused an image: no decode slot within %.0f s", self.wait)
            return Refusal.BUSY
        finally:
            self._waiting -= 1
        # The slot is freed when the thread ends, not when the caller stops waiting for it: a
        # cancelled reader can't let more decodes run at once than the semaphore allows.
        work = asyncio.get_running_loop().run_in_executor(None, read, data, self.max_side)
        work.add_done_callback(lambda _: self._slots.release())
        return await asyncio.shield(work)


def data_url(image: Image) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode()}"


def tokens(model: str, width: int, height: int) -> int:
    """The prompt tokens one image costs ``model`` (detail: auto/high)."""
    rule = family(model).images
    if isinstance(rule, Patches):
        return math.ceil(_patches(width, height) * rule.multiplier)
    if isinstance(rule, Tiles):
        w, h = _fit(width, height, 2048)
        scale = 768 / min(w, h) if min(w, h) > 768 else 1.0
        w, h = w * scale, h * scale
        return rule.base + rule.per_tile * math.ceil(w / 512) * math.ceil(h / 512)
    return max(1, math.ceil(width / 28) * math.ceil(height / 28))  # the stated estimate


def _fit(width: int, height: int, side: int) -> tuple[float, float]:
    scale = min(1.0, side / max(width, height))
    return width * scale, height * scale


def _patches(width: int, height: int) -> int:
    patches = math.ceil(width / 32) * math.ceil(height / 32)
    if patches <= 1536:
        return patches
    # Scale to about 1,536 patches, then so that a whole number of patches spans the width.
    scale = math.sqrt(1536 * 32 * 32 / (width * height))
    across = width * scale / 32
    scale *= math.floor(across) / across
    return math.floor(across) * math.ceil(height * scale / 32)


def cost(model: str, images: list[Image]) -> int:
    return sum(tokens(model, image.width, image.height) for image in images)


def answered(newest: list[Turn]) -> list[Turn]:
    """The user turns a reply answers: the newest ones, up to the previous answer."""
    batch = []
    for turn in newest:  # newest first
        if turn.role != "user":
            break
        batch.append(turn)
    return batch


def attach(
    request: ChatRequest, kept: list[Turn], found: dict[int, list[Image]], model: str, room: int
) -> None:
    """Send images with their turns, newest first, while ``room`` (tokens) lasts: older images
    are the first thing left out of a full history (their turns keep the placeholder text)."""
    for index, turn in enumerate(kept):  # newest first; the request's turns are oldest first
        pictures = found.get(turn.seq)
        if not pictures:
            continue
        price = cost(model, pictures)
        if price > room:
            break
        message = request.messages[len(request.messages) - 1 - index]
        message["content"] = [
            {"type": "text", "text": message["content"]},
            *({"type": "image_url", "image_url": {"url": data_url(p)}} for p in pictures),
        ]
        room -= price
        request.prompt_tokens += price
        request.images += len(pictures)
