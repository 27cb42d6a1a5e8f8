"""The pacer, with a fake clock: per-channel spacing, busy channels, a global budget, priorities."""

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
    assert pacer.edit_slot(1, final=False) == (True, 0.0)
    granted, delay = pacer.edit_slot(1, final=False)
    assert granted and delay == pytest.approx(EDIT_INTERVAL)


def test_channels_do_not_wait_for_each_other():
    pacer = Pacer(clock=Clock())
    assert [pacer.edit_slot(channel, final=False) for channel in range(10)] == [(True, 0.0)] * 10


def test_a_busy_channel_refuses_progress_edits_but_queues_finals():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.edit_slot(1, final=False)
    pacer.edit_slot(1, final=False)  # one edit queued behind the current one
    granted, hint = pacer.edit_slot(1, final=False)
    assert not granted and hint == pytest.approx(EDIT_INTERVAL)
    granted, delay = pacer.edit_slot(1, final=True)  # never refused, at most two edits ahead
    assert granted and delay == pytest.approx(2 * EDIT_INTERVAL)


def test_never_more_than_five_edits_in_five_seconds_per_channel():
    clock = Clock()
    pacer = Pacer(clock=clock)
    times = []
    for i in range(200):
        granted, delay = pacer.edit_slot(7, final=i % 3 == 0)
        if granted:
            times.append(clock.now + delay)
        clock.now += 0.1
    times.sort()
    for start in times:
        assert sum(1 for t in times if start <= t < start + 5.0) <= 4


def test_global_budget_holds_and_priority_requests_go_first():
    clock = Clock()
    pacer = Pacer(clock=clock, rate=40.0, burst=40, final_reserve=10)
    normal = [pacer.request_slot() for _ in range(100)]
    assert normal[:30] == [(True, 0.0)] * 30  # ordinary requests leave the reserve...
    assert all(not granted for granted, _ in normal[30:])  # ...and never queue
    finals = [pacer.request_slot(priority=True) for _ in range(100)]
    assert all(granted for granted, _ in finals)
    assert [delay for _, delay in finals[:10]] == [0.0] * 10  # the reserve
    assert finals[10][1] > 0
    # Over any one second, at most burst + rate requests are admitted.
    admitted = [d for _, d in normal[:30]] + [d for _, d in finals]
    assert sum(1 for d in admitted if d < 1.0) <= 80


def test_refused_requests_get_a_hint_and_succeed_after_it():
    clock = Clock()
    pacer = Pacer(clock=clock, rate=10.0, burst=10, final_reserve=4)
    for _ in range(6):
        assert pacer.request_slot()[0]
    granted, hint = pacer.request_slot()
    assert not granted and hint > 0
    clock.now += hint + 1e-9
    assert pacer.request_slot() == (True, 0.0)


def test_idle_channels_are_forgotten():
    clock = Clock()
    pacer = Pacer(clock=clock)
    for channel in range(5000):
        pacer.edit_slot(channel, final=True)
    clock.now += 10
    pacer.edit_slot(99_999, final=True)
    assert len(pacer._channel_next) < 5000
