"""What a restart makes of a reply a crash left half-shown."""

from __future__ import annotations

import pytest

from bot.core.discord_limits import MESSAGE_LIMIT
from bot.core.replies.recovery import mend, unfinished
from bot.core.texts import EN as texts

NOTE = texts.interrupted_by_restart


@pytest.mark.parametrize(
    ("shown", "stored", "contents", "apart"),
    [
        (["Half of an answer ▌"], "Half of an answer", [f"Half of an answer\n\n{NOTE}"], False),
        (
            ["Part one. ", "Part two ▌"],
            "Part one. Part two",
            ["Part one. ", f"Part two\n\n{NOTE}"],
            False,
        ),
        ([f"{texts.retrying} ▌"], "", [f"{texts.retrying}\n\n{NOTE}"], False),
        ([f"{texts.thinking(12)} ▌"], "", [f"{texts.thinking(12)}\n\n{NOTE}"], False),
        (["```py\nx = 1 ▌"], "```py\nx = 1", [f"```py\nx = 1\n```\n\n{NOTE}"], False),
        (["y" * 1990 + " ▌"], "y" * 1990, ["y" * 1990], True),  # the note would not fit
    ],
)
def test_mend(shown, stored, contents, apart):
    plan = mend(shown)
    assert (plan.stored, plan.contents, plan.note_apart) == (stored, contents, apart)
    assert all(len(content) <= MESSAGE_LIMIT for content in plan.contents)


@pytest.mark.parametrize(
    ("content", "components", "expected"),
    [("text ▌", False, True), ("done", True, True), ("done", False, False)],
)
def test_unfinished(content, components, expected):
    assert unfinished(content, components) is expected
