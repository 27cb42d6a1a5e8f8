"""Images for vision models: downscaled to a size worth sending, counted in tokens, and sent as
``data:`` URLs (some local servers refuse remote URLs, and Discord's expire).

Token costs follow OpenAI's published rules for its models (tiles of 512 px after scaling to fit
2048 × 2048 and the short side to 768; or 32 px patches for the patch-based minis); for other
models they are an estimate of one token per 28 × 28 px patch, as Qwen2-VL counts, since local
servers differ and report the real figure in their usage anyway.
"""

from __future__ import annotations

import base64
import io
import math

from PIL import Image as Pillow
from PIL import UnidentifiedImageError

from .context import ChatRequest
from .store import Image, Turn
from .tokens import base_model

TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
MAX_BYTES = 20_000_000  # larger files are named, not read
SENT_AS_IS = ("image/png", "image/jpeg", "image/webp")  # every vision API takes these


def is_image(filename: str, content_type: str | None) -> bool:
    if content_type:
        return content_type.split(";")[0].strip() in TYPES.values()
    return filename.lower().rsplit(".", 1)[-1] in ("png", "jpg", "jpeg", "webp", "gif")


def prepare(data: bytes, max_side: int) -> Image | None:
    """The image as it will be sent: the original bytes when they are already small enough and
    in a format every vision API takes; else (too large, or a GIF: its first frame) re-encoded,
    downscaled to fit ``max_side``. None for what is not an image."""
    try:
        with Pillow.open(io.BytesIO(data)) as picture:
            mime = TYPES.get(picture.format or "")
            width, height = picture.size
            if mime is None:
                return None
            if mime in SENT_AS_IS and max(width, height) <= max_side:
                return Image(mime, data, width, height)
            picture.seek(0)  # a GIF's first frame
            frame = picture.convert("RGBA" if _has_alpha(picture) else "RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    frame.thumbnail((max_side, max_side))
    out = io.BytesIO()
    if frame.mode == "RGBA":
        frame.save(out, "PNG", optimize=True)
        return Image("image/png", out.getvalue(), *frame.size)
    frame.save(out, "JPEG", quality=85)
    return Image("image/jpeg", out.getvalue(), *frame.size)


def _has_alpha(picture: Pillow.Image) -> bool:
    return picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info


def data_url(image: Image) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode()}"


# OpenAI's tile rule: (base, per 512-px tile) by model-name prefix, most specific first.
_TILES = (
    ("gpt-4o-mini", 2833, 5667), ("o1", 75, 150), ("o3", 75, 150), ("gpt-4o", 85, 170),
    ("chatgpt-4o", 85, 170), ("gpt-4.1", 85, 170), ("gpt-4.5", 85, 170), ("gpt-4-turbo", 85, 170),
    ("gpt-5", 70, 140),
)  # fmt: skip
# OpenAI's patch rule (32-px patches, at most 1,536, times a multiplier).
_PATCHES = (
    ("gpt-4.1-mini", 1.62), ("gpt-4.1-nano", 2.46), ("gpt-5-mini", 1.62), ("gpt-5-nano", 2.46),
    ("o4-mini", 1.72),
)  # fmt: skip


def tokens(model: str, width: int, height: int) -> int:
    """The prompt tokens one image costs ``model`` (detail: auto/high)."""
    name = base_model(model)
    for prefix, multiplier in _PATCHES:
        if name.startswith(prefix):
            return math.ceil(_patches(width, height) * multiplier)
    for prefix, base, per_tile in _TILES:
        if name.startswith(prefix):
            w, h = _fit(width, height, 2048)
            scale = 768 / min(w, h) if min(w, h) > 768 else 1.0
            w, h = w * scale, h * scale
            return base + per_tile * math.ceil(w / 512) * math.ceil(h / 512)
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
