"""Text attachments in turns: read, fenced, or just named."""

from __future__ import annotations

import pytest

from bot.attachments import MAX_BYTES, render, should_read, with_attachments


@pytest.mark.parametrize(
    ("name", "content_type", "size", "read"),
    [
        ("message.txt", "text/plain; charset=utf-8", 5000, True),
        ("main.py", None, 100, True),
        ("data.json", "application/json", 100, True),
        ("photo.png", "image/png", 100, False),
        ("big.txt", "text/plain", MAX_BYTES + 1, False),
        ("archive.zip", "application/zip", 100, False),
    ],
)
def test_which_attachments_are_read(name, content_type, size, read):
    assert should_read(name, content_type, size) is read


def test_rendering():
    assert (
        render("main.py", b"print('hi')\n")
        == "[attached file: main.py]\n```python\nprint('hi')\n```"
    )
    assert render("notes.md", b"```js\nx\n```").startswith(
        "[attached file: notes.md]\n````markdown\n"
    )
    assert render("photo.png", None) == "[attached file: photo.png (not read)]"
    assert render("bad.txt", b"\xff\xfeok") == "[attached file: bad.txt]\n```\n\ufffd\ufffdok\n```"
    assert with_attachments("", ["a"]) == "a" and with_attachments("q", ["a", "b"]) == "q\n\na\n\nb"
