"""Benchmark: the peak memory of preparing one large image for a vision model.

Each PNG is of one colour (half a megabyte on disk for 13,000² pixels, as a hostile member
could post), made here by streaming zlib so that making it costs no memory; each JPEG is noise,
a gradient. Each is prepared in a
fresh process with :func:`bot.core.images.prepare`; the figure is that process's peak RSS (VmHWM,
reset once the modules are imported and the file is read) above its RSS just before: what
preparing the image added. Linux only.

    python bench/image_rss.py [--sides 13000 16000 6000] [--max-side 1024]
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def flat_png(width: int, height: int) -> bytes:
    """An 8-bit RGB PNG of ``width`` × ``height`` black pixels, compressed row by row."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    packer = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte 0, then the pixels
    rows = [packer.compress(row) for _ in range(height)]
    idat = b"".join(rows) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def gradient_jpeg(side: int) -> bytes:
    """A JPEG of a colour gradient (its content doesn't change what decoding it costs)."""
    from PIL import Image

    out = io.BytesIO()
    grey = Image.radial_gradient("L").resize((side, side))
    Image.merge("RGB", (grey, grey.transpose(Image.Transpose.ROTATE_90), grey)).save(
        out, "JPEG", quality=85
    )
    return out.getvalue()


def _status(field: str) -> int:
    """A /proc/self/status figure, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak() -> int:
    """Reset this process's peak RSS to its RSS now (Linux 4.0+), and return it (kB): the
    imports' own peak (the tokenizer's tables) would otherwise hide a smaller decode."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def child(path: str, max_side: int) -> None:
    sys.path.insert(0, str(ROOT))
    from bot.core import images

    data = Path(path).read_bytes() if path else b""
    before = _reset_peak()
    try:
        result = images.prepare(data, max_side) if data else None
    except Exception as exc:  # what the code before the pixel cap did with a bomb
        shown = f"raised {type(exc).__name__}"
    else:
        shown = "refused" if result is None else f"{result.mime} {result.width}x{result.height}"
    after = _status("VmHWM")
    print(f"{before} {after} {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[13_000, 16_000, 6_000])
    parser.add_argument("--jpeg-sides", type=int, nargs="*", default=[6_000])
    parser.add_argument("--max-side", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        made = [(side, "png", lambda s: flat_png(s, s)) for side in args.sides]
        made += [(side, "jpg", gradient_jpeg) for side in args.jpeg_sides]
        for side, kind, make in made:
            path = os.path.join(folder, f"{side}.{kind}")
            Path(path).write_bytes(make(side))
            size = os.path.getsize(path)
            out = subprocess.run(
                [sys.executable, __file__, "--child", path, str(args.max_side)],
                capture_output=True, text=True, check=True,
            ).stdout.split(maxsplit=2)  # fmt: skip
            before, after, shown = int(out[0]), int(out[1]), out[2].strip()
            print(
                f"{kind} {side:>6}² px ({side * side / 1e6:5.0f} MP, {size / 1000:6.1f} kB): "
                f"peak RSS +{(after - before) / 1024:7.1f} MB  ({shown})"
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
