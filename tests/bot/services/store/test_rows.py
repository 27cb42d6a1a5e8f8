"""The row mapping both stores share (bot/services/store/rows.py), without a database; what the
stores return through it is tested against both in test_store.py."""

from __future__ import annotations

import pytest

from bot.core.store import Image, Turn, TurnStatus
from bot.services.store.rows import fit_budget, to_conversation, to_images, to_turn


def _turns(count: int, tokens: int) -> list[Turn]:
    return [
        Turn(seq, 1, None, "user", "x", None, tokens, TurnStatus.COMPLETE)
        for seq in range(count, 0, -1)
    ]


@pytest.mark.parametrize(
    ("stored", "tokens", "budget", "windows", "kept"),
    [
        (10, 1, 1_000, [64], 10),  # fewer turns than the first window: one query
        (64, 1, 1_000, [64, 512], 64),  # the window was full and all fit: it grows
        (600, 1, 1_000, [64, 512, 4096], 600),  # grows until a window is not full
        (100, 50, 1_000, [64], 21),  # 20 fit, plus the next older one: no growth
        (10_000, 1, 12_800, [128, 1024, 8192, 65536], 10_000),  # first guess: budget // 100
    ],
)
async def test_the_window_grows_only_while_everything_in_it_fits(
    stored, tokens, budget, windows, kept
):
    every = _turns(stored, tokens)
    asked: list[int] = []

    async def fetch(limit: int) -> list[Turn]:  # what the stores' budget queries return
        asked.append(limit)
        window = every[:limit]
        return [t for i, t in enumerate(window) if sum(u.tokens for u in window[:i]) <= budget]

    assert len(await fit_budget(fetch, budget)) == kept
    assert asked == windows


def test_rows_become_values():
    row = (7, 1, 99, "assistant", "hi", None, 3, "interrupted")
    assert to_turn(row) == Turn(7, 1, 99, "assistant", "hi", None, 3, TurnStatus.INTERRUPTED)
    conversation = to_conversation((1, 2, 3, 4, None, 0, None, 0, 1))  # SQLite's 0/1 flag
    assert conversation.via_interaction is True
    images = to_images([(5, "image/png", memoryview(b"a"), 1, 2), (5, "image/jpeg", b"b", 3, 4)])
    assert images == {5: [Image("image/png", b"a", 1, 2), Image("image/jpeg", b"b", 3, 4)]}
