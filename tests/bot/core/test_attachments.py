"""Text attachments in turns: read, fenced, or just named."""

from __future__ import annotations

import pytest

from bot.core import audio
from bot.core.attachments import (
    MAX_BYTES,
    edited,
    forwarded,
    image,
    render,
    replying_to,
    should_read,
    with_attachments,
)


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


CODE = render("main.py", b"print('hi')\n\n[attached image: a.png]\n")  # a blank line inside
TRICKY = render("x.md", b"```\n\n[attached file: x.md]\n````markdown\n")  # our marker inside
QUOTE = replying_to("bob", "what?\n\nwhy?")
HEARD = audio.render(audio.Heard("a.ogg", "what time is it?\n\n[attached audio: a.ogg]"))


@pytest.mark.parametrize(
    ("stored", "text", "files", "forwards", "replying", "expected"),
    [
        ("old", "new", [], 0, False, "new"),
        ("old\n\n" + CODE, "new", [("main.py", "file")], 0, False, "new\n\n" + CODE),
        (CODE, "now some text", [("main.py", "file")], 0, False, "now some text\n\n" + CODE),
        ("old\n\n" + CODE, "", [("main.py", "file")], 0, False, CODE),  # text removed
        (  # images keep what they were read as; files their content, read once
            "old\n\n[attached image: a.png]\n\n[attached image: b.png (not readable)]\n\n" + CODE,
            "new", [("a.png", "image"), ("b.png", "image"), ("main.py", "file")], 0, False,
            "new\n\n[attached image: a.png]\n\n[attached image: b.png (not readable)]\n\n" + CODE,
        ),
        (
            "old\n\n[attached file: big.txt (not read)]", "new", [("big.txt", "file")], 0, False,
            "new\n\n[attached file: big.txt (not read)]",
        ),
        ("old\n\n" + TRICKY, "new", [("x.md", "file")], 0, False, "new\n\n" + TRICKY),
        (  # a text that quotes the parts' layout is still the text
            "[attached image: a.png]\n\n[attached image: a.png]", "new", [("a.png", "image")], 0,
            False, "new\n\n[attached image: a.png]",
        ),
        (  # the quoted message a conversation opened with stays
            f"{QUOTE}\n\nold\n\n[attached image: a.png]", "new", [("a.png", "image")], 0, True,
            f"{QUOTE}\n\nnew\n\n[attached image: a.png]",
        ),
        (QUOTE, "new", [], 0, True, f"{QUOTE}\n\nnew"),
        (
            f"old\n\n{forwarded('fwd')}\n\n[attached image: a.png]", "new", [("a.png", "image")], 1,
            False, f"new\n\n{forwarded('fwd')}\n\n[attached image: a.png]",
        ),
        (  # a recording keeps its transcript, or its "not transcribed"
            f"old\n\n{HEARD}\n\n[attached audio: b.mp3 (not transcribed)]", "new",
            [("a.ogg", "audio"), ("b.mp3", "audio")], 0, False,
            f"new\n\n{HEARD}\n\n[attached audio: b.mp3 (not transcribed)]",
        ),
        (  # stored differently (an older version): the files are named, not read again
            "old text only", "new", [("a.png", "image"), ("main.py", "file")], 0, False,
            "new\n\n[attached image: a.png]\n\n[attached file: main.py (not read)]",
        ),
    ],
)  # fmt: skip
def test_an_edit_replaces_the_text_and_keeps_what_was_read(
    stored, text, files, forwards, replying, expected
):
    assert edited(stored, text, files, forwards=forwards, replying=replying) == expected


def test_image_placeholders():
    assert image("a.png", readable=True) == "[attached image: a.png]"
    assert image("a.png", readable=False) == "[attached image: a.png (not readable)]"
