"""The splitter: every part fits, fences balance, bodies join back, parts are stable while streaming."""

from __future__ import annotations

import itertools
import random

import pytest

from bot.core.discord_limits import MESSAGE_LIMIT
from bot.core.render import (
    CURSOR,
    close_open_fence,
    display_parts,
    fit,
    open_fence,
    split_parts,
    with_note,
)

WORDS = [
    "alpha",
    "beta",
    "**bold words**",
    "`inline code`",
    "gamma",
    "δέλτα",
    "日本語",
    "🎉",
    "||spoiler||",
]


def random_reply(rng: random.Random, size: int) -> str:
    out: list[str] = []
    while sum(map(len, out)) < size:
        kind = rng.random()
        if kind < 0.15:
            lang = rng.choice(["python", "", "js", "diff"])
            lines = [
                f"    x_{i} = {rng.randint(0, 999)}  # {rng.choice(WORDS)}"
                for i in range(rng.randint(1, 120))
            ]
            out.append(f"```{lang}\n" + "\n".join(lines) + "\n```\n")
        elif kind < 0.25:
            out.append("\n\n")
        elif kind < 0.3:
            out.append("x" * rng.randint(100, 3000))  # a long unbreakable run
        else:
            out.append(
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
                + rng.choice([" ", "\n"])
            )
    return "".join(out)


@pytest.mark.parametrize("seed", range(60))
def test_parts_fit_balance_and_join_back(seed):
    rng = random.Random(seed)
    text = random_reply(rng, rng.choice([500, 2500, 6000, 15000]))
    parts = split_parts(text)
    assert "".join(p.body for p in parts) == text
    for part in parts:
        rendered = part.render()
        assert len(rendered) <= MESSAGE_LIMIT
        assert open_fence(rendered) is None or part is parts[-1]
    for previous, current in itertools.pairwise(parts):
        if previous.close:
            assert current.reopen.startswith(previous.close.strip()[:3])


@pytest.mark.parametrize("seed", range(10))
def test_finished_parts_never_change_while_streaming(seed):
    rng = random.Random(seed)
    text = random_reply(rng, 9000)
    final = split_parts(text)
    for end in range(0, len(text), 97):
        partial = split_parts(text[:end])
        assert partial[:-1] == final[: len(partial) - 1]


def test_code_block_split_reopens_with_language():
    code = "```python\n" + "\n".join(f"print({i})" for i in range(600)) + "\n```"
    parts = [p.render() for p in split_parts(code)]
    assert len(parts) > 1
    for part in parts:
        assert part.startswith("```python\n") and part.rstrip().endswith("```")


def test_prefers_paragraph_then_line_then_word():
    para = "a" * 1200 + "\n\n" + "b" * 1200
    assert split_parts(para)[0].body.endswith("\n\n")
    line = "a" * 1200 + "\n" + "b" * 1200
    assert split_parts(line)[0].body.endswith("\n")
    words = ("word " * 600).strip()
    assert split_parts(words)[0].body.endswith("word ")


def test_word_split_avoids_cutting_inline_code():
    text = "x" * 1900 + " `some inline code that spans the limit` tail " + "y" * 500
    first = split_parts(text)[0].body
    assert first.count("`") % 2 == 0


def test_streaming_display_has_cursor_and_closed_fence():
    shown = display_parts("Here:\n```py\nprint(1)", streaming=True)
    assert shown == ["Here:\n```py\nprint(1)\n```" + CURSOR]
    assert display_parts("Here:\n```py\nprint(1)\n```", streaming=False) == [
        "Here:\n```py\nprint(1)\n```"
    ]


def test_close_open_fence():
    assert close_open_fence("```py\nx = 1") == "```py\nx = 1\n```"
    assert close_open_fence("```py\nx = 1\n```") == "```py\nx = 1\n```"
    assert close_open_fence("plain") == "plain"


@pytest.mark.parametrize("seed", range(30))
def test_fit_keeps_the_start_that_fits_with_its_note(seed):
    rng = random.Random(seed)
    text = random_reply(rng, rng.choice([1500, 6000, 15000]))
    note = "*(cut short)*"
    count = rng.randint(1, 5)
    kept = fit(text, note, count)
    shown = display_parts(with_note(kept, note), streaming=False)
    assert text.startswith(kept) and len(shown) <= count and shown[-1].endswith(note)
    whole = display_parts(with_note(text, note), streaming=False)
    if len(whole) <= count:
        assert kept == text  # nothing cut when it all fits
    else:
        assert len(kept) > len("".join(p.body for p in split_parts(text)[: count - 1])) - 200
        assert shown[:-1] == whole[: len(shown) - 1]  # the earlier messages as they streamed
