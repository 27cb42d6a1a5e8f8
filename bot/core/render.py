"""Split a reply into Discord messages without breaking code blocks or inline formatting.

A part is a slice of the reply, plus a fence opener when it continues a code block and a fence
closer when a code block is cut at its end. Each part depends only on the text up to its cut, so
while a reply streams, the parts already finished never change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.discord_limits import MESSAGE_LIMIT

CURSOR = " ▌"
# Room kept free in every part for a display-only closing fence and the cursor while streaming.
STREAM_ROOM = 16
PART_LIMIT = MESSAGE_LIMIT - STREAM_ROOM

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})([^`\n]*)$")
_INLINE_MARKERS = ("`", "**", "__", "~~", "||")


@dataclass(frozen=True, slots=True)
class Part:
    body: str  # a slice of the original text; the bodies joined give the text back
    reopen: str = ""  # the fence opener line (with newline) that continues a cut code block
    close: str = ""  # the fence closer for a code block cut at the end of this part

    def render(self) -> str:
        return self.reopen + self.body + self.close


def open_fence(text: str, state: str | None = None) -> str | None:
    """The opener line of the code block still open at the end of ``text`` (or None)."""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if not match:
            continue
        marker = match.group(1)
        if state is None:
            state = line.strip()
        elif (
            marker[0] == state[0]
            and len(marker) >= _marker_length(state)
            and not match.group(2).strip()
        ):
            state = None
    return state


def _marker_length(opener: str) -> int:
    return len(opener) - len(opener.lstrip(opener[0]))


def _closer(opener: str, body: str) -> str:
    return ("" if body.endswith("\n") else "\n") + opener[0] * _marker_length(opener)


def _inline_balanced(line: str) -> bool:
    """No inline span (code, bold, strike, spoiler) is left open at the end of ``line``."""
    if line.count("`") % 2:
        return False
    without_code = re.sub(r"`[^`]*`", "", line)
    return all(without_code.count(marker) % 2 == 0 for marker in _INLINE_MARKERS[1:])


def _best_cut(text: str, lo: int, hi: int, fence_at_start: str | None) -> int:
    """Where to end a part within ``text[:hi]``: paragraph, then line, then word, then hard."""
    for separator in ("\n\n", "\n"):
        index = text.rfind(separator, lo, hi)
        if index != -1:
            return index + len(separator)
    index = hi
    for _ in range(64):  # word boundaries, skipping any that would cut an inline span
        index = text.rfind(" ", lo, index)
        if index == -1:
            break
        line_start = text.rfind("\n", 0, index) + 1
        in_code_block = open_fence(text[:index], fence_at_start) is not None
        if in_code_block or _inline_balanced(text[line_start : index + 1]):
            return index + 1
    return hi


def split_parts(text: str, limit: int = PART_LIMIT) -> list[Part]:
    """Split ``text`` into parts whose rendering is at most ``limit`` characters."""
    parts: list[Part] = []
    reopen = ""
    fence: str | None = None
    start = 0
    while True:
        rest = text[start:]
        if len(reopen) + len(rest) <= limit:
            parts.append(Part(rest, reopen))
            return parts
        room = limit - len(reopen) - 12  # 12: room for a closing fence
        while True:
            cut = _best_cut(rest, max(1, room // 2), room, fence)
            body = rest[:cut]
            fence_after = open_fence(body, fence)
            close = _closer(fence_after, body) if fence_after else ""
            if len(reopen) + len(body) + len(close) <= limit or room <= 1:
                break
            room -= len(close)
        parts.append(Part(body, reopen, close))
        fence = fence_after
        reopen = f"{fence_after}\n" if fence_after else ""
        start += cut


def close_open_fence(text: str) -> str:
    """``text`` with a code block left open at its end closed (e.g. a reply cut short)."""
    fence = open_fence(text)
    return text + _closer(fence, text) if fence else text


def with_note(text: str, note: str) -> str:
    """A finished reply with its note (e.g. "(stopped)") under it, outside any open code block."""
    if not note:
        return text
    return f"{close_open_fence(text)}\n\n{note}" if text.strip() else note


def fit(text: str, note: str, count: int) -> str:
    """The start of ``text`` that, with ``note`` under it, fits in ``count`` messages (all of
    it when it does): for surfaces that take only so many messages for one reply."""
    keep = len(text)
    while keep > 0:
        parts = display_parts(with_note(text[:keep], note), streaming=False)
        if len(parts) <= count:
            return text[:keep]
        keep -= max(16, sum(len(part) for part in parts[count:]))  # at least what overflowed
    return ""


def display_parts(text: str, *, streaming: bool) -> list[str]:
    """What to show in Discord for ``text``: while streaming, the last part gets a cursor and
    a display-only fence closer so that an unfinished code block already renders as code."""
    parts = split_parts(text)
    shown = [part.render() for part in parts]
    if streaming:
        last = parts[-1]
        fence = open_fence(last.reopen + last.body)
        tail = shown[-1] + (_closer(fence, last.body) if fence else "") + CURSOR
        shown[-1] = tail if len(tail) <= MESSAGE_LIMIT else shown[-1]
    return [part if part.strip() else "\u200b" for part in shown]
