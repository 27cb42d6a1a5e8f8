"""What a user's turn is made of besides its text: attachments, forwarded messages, and the
message it replies to.

Discord turns a long paste into a `message.txt` attachment, and people share code as files; both
should reach the model. Binary files and very large ones are named but not read. A forwarded
message arrives with empty content (its text is in a snapshot), and a reply to a message outside
the conversation would lose its point without that message: both are quoted into the turn.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from pathlib import PurePath
from typing import Literal

from bot.core import audio

MAX_BYTES = 200_000  # larger files are mentioned, not read (the builder would cut them anyway)
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml")
LANGUAGES = {
    ".py": "python", ".js": "js", ".ts": "ts", ".json": "json", ".md": "markdown", ".sh": "sh",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".rs": "rust", ".go": "go", ".java": "java",
    ".c": "c", ".h": "c", ".cpp": "cpp", ".cs": "cs", ".rb": "ruby", ".sql": "sql", ".html": "html",
    ".css": "css", ".xml": "xml", ".ini": "ini", ".log": "", ".txt": "", ".csv": "",
}  # fmt: skip


def is_text(filename: str, content_type: str | None) -> bool:
    if content_type and content_type.split(";")[0].strip().startswith(TEXT_TYPES):
        return True
    return PurePath(filename).suffix.lower() in LANGUAGES


def should_read(filename: str, content_type: str | None, size: int) -> bool:
    return size <= MAX_BYTES and is_text(filename, content_type)


def render(filename: str, data: bytes | None) -> str:
    """How an attachment appears in the turn: its text in a code block, or just its name."""
    if data is None:
        return f"[attached file: {filename} (not read)]"
    text = data.decode("utf-8", errors="replace").strip("\n")
    language = LANGUAGES.get(PurePath(filename).suffix.lower(), "")
    fence = "````" if "```" in text else "```"
    return f"[attached file: {filename}]\n{fence}{language}\n{text}\n{fence}"


def with_attachments(text: str, rendered: list[str]) -> str:
    return "\n\n".join(part for part in (text, *rendered) if part)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.strip().splitlines()) or "> (no text)"


def replying_to(author: str, text: str) -> str:
    return f"[replying to {author}]\n{_quote(text)}"


def asking_about(author: str, text: str, question: str) -> str:
    """A conversation begun from a message's context menu: the message quoted, then the
    question about it."""
    return f"[asking about a message by {author}]\n{_quote(text)}\n\n{question}"


def forwarded(text: str) -> str:
    return f"[forwarded message]\n{_quote(text)}"


def image(filename: str, *, readable: bool) -> str:
    """An image's place in the turn's text (the image itself goes to vision models apart)."""
    return (
        f"[attached image: {filename}]"
        if readable
        else f"[attached image: {filename} (not readable)]"
    )


# What an attachment was read as: a file (its text, or its name), an image, a recording.
Kind = Literal["file", "image", "audio"]


def placeholder(name: str, kind: Kind) -> str:
    """An attachment's part when it can't be placed in a stored turn: named, not read."""
    if kind == "image":
        return image(name, readable=True)
    if kind == "audio":
        return audio.render(audio.Heard(name))
    return render(name, None)


def edited(
    stored: str,
    text: str,
    files: Sequence[tuple[str, Kind]],
    *,
    forwards: int = 0,
    replying: bool = False,
) -> str:
    """A stored turn with its message's own text replaced by ``text``, the rest kept as it was
    stored: the message it replies to (quoted when it opened a conversation), its ``forwards``
    forwarded messages and its ``files`` (each a name, and what it was read as). An edit can
    change only the text, and attachments are read once, when the turn is stored: a file read
    then keeps its content, an image its "not readable", a recording its transcript. If the turn
    does not end with those parts (stored by a version that wrote them differently), they are
    named, not read."""
    start = _parts_start(stored, files, forwards)
    if start is None:
        return with_attachments(text, [placeholder(name, kind) for name, kind in files])
    head, kept = stored[:start], stored[start:]
    quote = head.split("\n\n", 1)[0] if replying and head.startswith("[replying to ") else ""
    return "\n\n".join(part for part in (quote, text, kept) if part)


PLACES_TRIED = 2_000  # places tried for the parts, at most, before the turn counts as unreadable


class _Unplaced(Exception):
    """The parts could not be placed within :data:`PLACES_TRIED` tries."""


def _parts_start(stored: str, files: Sequence[tuple[str, Kind]], forwards: int) -> int | None:
    """Where the parts after the text begin in ``stored``; None if it doesn't end with them.
    Each part is the exact text :func:`image` or :func:`render` gives it, a file's fenced
    block, or a forwarded message's or a transcript's quote (which holds no blank line); parts
    are joined by a
    blank line. A read file's content may hold anything, our own markers included, so each part
    is placed where it starts earliest while the parts before it still fit (the longest reading
    of what was read). Each marker is looked for once and :data:`PLACES_TRIED` places at most
    are tried: a hostile file can't make an edit cost more than a few scans of the turn."""
    expected: list[tuple[str | None, Kind]] = [*((None, "file"),) * forwards, *files]
    if not expected:
        return len(stored)
    tries = iter(range(PLACES_TRIED))
    tried: dict[tuple[int, int], int | None] = {}
    found: dict[str, list[int]] = {}  # each header: where it starts a part, in order

    def starts(end: int, name: str | None, kind: Kind) -> list[int]:
        """Where a part ending at ``end`` may start, earliest first."""
        if kind == "image":
            assert name is not None
            return _exact(stored, end, image(name, readable=True), image(name, readable=False))
        if kind == "audio":
            assert name is not None
            untranscribed = _exact(stored, end, placeholder(name, kind))
            if untranscribed:
                return untranscribed
            header = audio.heading(name) + "\n"
        elif name is None:
            header = "[forwarded message]\n"
        elif _exact(stored, end, render(name, None)):
            return _exact(stored, end, render(name, None))
        else:
            fence = next((f for f in ("````", "```") if stored.endswith("\n" + f, 0, end)), "")
            if not fence:
                return []
            language = LANGUAGES.get(PurePath(name).suffix.lower(), "")
            header = f"[attached file: {name}]\n{fence}{language}\n"
            end -= len(fence) + 1  # the header ends before the closing fence
        if header not in found:
            found[header] = _headers(stored, header)
        places = found[header]
        return places[: bisect.bisect_right(places, end - len(header))]

    def start_of(count: int, end: int) -> int | None:
        """Where the first ``count`` expected parts begin, if they end at ``end``."""
        if (count, end) not in tried:
            tried[count, end] = None
            for start in starts(end, *expected[count - 1]):
                if next(tries, None) is None:
                    raise _Unplaced
                first = start if count == 1 else start_of(count - 1, max(start - 2, 0))
                if first is not None:
                    tried[count, end] = first
                    break
        return tried[count, end]

    try:
        return start_of(len(expected), len(stored))
    except _Unplaced:
        return None


def _starts_part(stored: str, index: int) -> bool:
    return index == 0 or stored.startswith("\n\n", index - 2)


def _exact(stored: str, end: int, *candidates: str) -> list[int]:
    return [
        end - len(c)
        for c in candidates
        if len(c) <= end
        and stored.startswith(c, end - len(c))
        and _starts_part(stored, end - len(c))
    ]


def _headers(stored: str, header: str) -> list[int]:
    """Every place ``header`` starts a part, in order."""
    places = []
    index = stored.find(header)
    while index >= 0:
        if _starts_part(stored, index):
            places.append(index)
        index = stored.find(header, index + 1)
    return places
