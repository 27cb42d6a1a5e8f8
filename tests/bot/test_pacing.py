"""The pacer, with a fake clock: per-channel spacing, a global budget, finals first."""

from __future__ import annotations

import pytest

from bot.limits import EDIT_INTERVAL
from bot.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_edits_in_one_channel_are_spaced():
    clock = Clock()
    pacer = Pacer(clock=clock)
    delays = [pacer.reserve(1) for _ in range(4)]
    assert delays == pytest.approx([0.0, EDIT_INTERVAL, 2 * EDIT_INTERVAL, 3 * EDIT_INTERVAL])


def test_channels_do_not_wait_for_each_other():
    pacer = Pacer(clock=Clock())
    assert [pacer.reserve(channel) for channel in range(10)] == [0.0] * 10


def test_never_more_than_five_edits_in_five_seconds_per_channel():
    clock = Clock()
    pacer = Pacer(clock=clock)
    times = []
    for _ in range(50):
        delay = pacer.reserve(7)
        times.append(clock.now + delay)
        clock.now += delay + 0.01
    for i in range(len(times)):
        assert sum(1 for t in times if times[i] <= t < times[i] + 5.0) <= 4


def test_global_budget_holds_and_finals_go_first():
    clock = Clock()
    pacer = Pacer(clock=clock, rate=40.0, burst=40, final_reserve=10)
    progress = [pacer.reserve(channel) for channel in range(100)]
    assert progress[:30] == [0.0] * 30 and progress[30] > 0  # progress edits leave the reserve
    final = Pacer(clock=clock, rate=40.0, burst=40, final_reserve=10)
    finals = [final.reserve(channel, final=True) for channel in range(100)]
    assert finals[:40] == [0.0] * 40 and finals[40] > 0
    # Over any stretch, at most burst + rate * seconds requests are admitted.
    admitted = sorted(clock.now + d for d in finals)
    assert sum(1 for t in admitted if t < clock.now + 1.0) <= 40 + 40


def test_final_edit_overtakes_queued_progress_edits():
    clock = Clock()
    pacer = Pacer(clock=clock, rate=10.0, burst=10, final_reserve=4)
    for channel in range(20):
        pacer.reserve(channel)
    assert pacer.reserve(99, final=True) < pacer.reserve(98)


def test_sends_skip_channel_spacing():
    pacer = Pacer(clock=Clock())
    pacer.reserve(1)
    assert pacer.reserve(1, edit=False) == 0.0
