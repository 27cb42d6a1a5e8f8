"""The pacer, with a fake clock: per-channel spacing, busy channels, a global budget, priorities."""

from __future__ import annotations

import bisect
import random

import pytest

from bot.limits import EDIT_INTERVAL, EDIT_WINDOW, GLOBAL_LIMIT, GLOBAL_RATE
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
    granted, delay = pacer.edit_slot(1, final=True)  # never refused; the window has room
    assert granted and delay == 0.0


def test_a_final_edit_waits_only_when_the_channels_window_is_full():
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(4):  # progress edits, spaced
        granted, delay = pacer.edit_slot(1, final=False)
        clock.now += delay
    assert pacer.edit_slot(1, final=True) == (True, 0.0)  # the fifth, at once
    granted, delay = pacer.edit_slot(1, final=True)  # a sixth would be one too many
    assert granted and delay == pytest.approx(EDIT_WINDOW - 3 * EDIT_INTERVAL)


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
        assert sum(1 for t in times if start <= t < start + EDIT_WINDOW) <= 5


def busiest(times: list[float], length: float = 1.0) -> int:
    """The most of ``times`` in any half-open window ``[s, s + length)``: one starting at a
    slot is enough, since moving a window's start up to its first slot loses none."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + length) - i for i, t in enumerate(times)), default=0)


def test_the_default_budget_leaves_a_margin_under_discords_limit():
    clock = Clock()
    pacer = Pacer(clock=clock)
    times = [clock.now + pacer.request_slot(priority=True)[1] for _ in range(500)]
    assert pacer.rate == GLOBAL_RATE < GLOBAL_LIMIT
    assert busiest(times) == GLOBAL_RATE


def test_priority_requests_are_spread_out_and_queue_in_order():
    pacer = Pacer(clock=Clock(), rate=45, burst=3)
    delays = [pacer.request_slot(priority=True)[1] for _ in range(100)]
    assert delays[:3] == [0.0] * 3  # the burst
    assert delays[3:45] == pytest.approx([n / 45 for n in range(1, 43)])  # then one every 1/45 s
    assert delays[45:90] == pytest.approx([1 + d for d in delays[:45]])  # a window later, again


def test_ordinary_requests_leave_the_reserve_and_never_queue():
    clock = Clock()
    pacer = Pacer(clock=clock, rate=45, reserve=10, burst=45)  # a burst as large as the window
    ordinary = [pacer.request_slot() for _ in range(50)]
    assert ordinary[:35] == [(True, 0.0)] * 35
    assert all(not granted and hint == pytest.approx(1.0) for granted, hint in ordinary[35:])
    priority = [pacer.request_slot(priority=True) for _ in range(11)]
    assert priority[:10] == [(True, 0.0)] * 10  # the reserve was there
    assert priority[10] == (True, 1.0)
    clock.now += 0.5
    granted, hint = pacer.request_slot()  # behind the queued priority request, not before it
    assert not granted and hint == pytest.approx(0.5)


def test_ordinary_requests_wait_for_the_spacing_without_queueing():
    clock = Clock()
    pacer = Pacer(clock=clock, rate=45, burst=3)
    assert [pacer.request_slot() for _ in range(3)] == [(True, 0.0)] * 3
    granted, hint = pacer.request_slot()
    assert not granted and hint == pytest.approx(1 / 45)
    clock.now += 1 / 45
    assert pacer.request_slot() == (True, 0.0)


def test_refused_requests_get_a_hint_and_succeed_after_it():
    clock = Clock()
    pacer = Pacer(clock=clock, rate=10, reserve=4, burst=10)
    for _ in range(6):
        clock.now += 0.01
        assert pacer.request_slot()[0]
    granted, hint = pacer.request_slot()
    assert not granted and hint == pytest.approx(0.95)  # when the first slot leaves the window
    clock.now += hint
    assert pacer.request_slot() == (True, 0.0)


@pytest.mark.parametrize(
    ("rate", "reserve", "burst"), [(0, 0, 1), (10, 10, 1), (10, -1, 1), (10, 2, 0)]
)
def test_a_budget_must_leave_room(rate, reserve, burst):
    with pytest.raises(ValueError, match="reserve"):
        Pacer(rate=rate, reserve=reserve, burst=burst)


@pytest.mark.parametrize(
    ("seed", "rate", "reserve", "burst", "per_second", "priority_share", "bursts"),
    [
        (1, 45, 10, 3, 20, 0.5, 0.0),  # light load
        (2, 45, 10, 3, 60, 0.3, 0.0),  # over budget, mostly progress edits
        (3, 45, 10, 3, 60, 0.9, 0.0),  # over budget, mostly first posts and final edits
        (4, 45, 10, 3, 200, 0.5, 0.0),  # four times the budget
        (5, 45, 10, 3, 100, 0.2, 0.05),  # some arrivals are bursts of up to 60 at one instant
        (6, 45, 0, 3, 100, 0.5, 0.03),  # no reserve
        (7, 45, 10, 45, 100, 0.5, 0.03),  # a burst as large as the window: the log alone
        (8, 45, 10, 1, 100, 0.5, 0.03),  # no burst: evenly spaced
        (9, 10, 4, 3, 30, 0.5, 0.03),  # a small budget
        (10, 450, 10, 3, 1000, 0.4, 0.03),  # a bot that Discord granted more
        (11, 45, 10, 3, 45, 1.0, 0.02),  # priority only, at the budget
        (12, 45, 10, 3, 300, 0.0, 0.05),  # progress edits and typing only
    ],
)
def test_no_window_ever_carries_more_than_the_rate(
    seed, rate, reserve, burst, per_second, priority_share, bursts
):
    """Random mixes of requests at random moments, some in bursts at one instant, for 20 s:
    the granted send times never put more than ``rate`` in any one-second window, nor ordinary
    requests more than ``rate - reserve``, nor more than ``burst + rate·L`` in any span ``L``
    (so skew hurts little); priority requests always get a slot, ordinary ones only at once."""
    rng = random.Random(seed)
    clock = Clock()
    pacer = Pacer(clock=clock, rate=rate, reserve=reserve, burst=burst)
    slots: list[tuple[float, bool]] = []  # (send time, priority), in the order granted
    refused = 0
    end = clock.now + 20.0
    while clock.now < end:
        clock.now += rng.expovariate(per_second)
        for _ in range(rng.randint(2, 60) if rng.random() < bursts else 1):
            priority = rng.random() < priority_share
            granted, delay = pacer.request_slot(priority=priority)
            assert delay >= 0.0
            if not granted:
                assert not priority and delay > 0.0
                refused += 1
                continue
            assert priority or delay == 0.0
            slots.append((clock.now + delay, priority))
    times = [t for t, _ in slots]
    assert times == sorted(times)  # granted in time order: queued priority requests go in turn
    assert busiest(times) <= rate
    assert busiest([t for t, priority in slots if not priority]) <= rate - reserve
    for length in (0.15, 0.55, 1.05):  # lengths where rate·length is never a whole number
        assert busiest(times, length) < burst + rate * length
    if per_second > 1.5 * rate:  # a saturated budget is used, not wasted
        assert busiest(times) == (rate if priority_share else rate - reserve)
        assert refused > 0


def test_idle_channels_are_forgotten():
    clock = Clock()
    pacer = Pacer(clock=clock)
    for channel in range(5000):
        pacer.edit_slot(channel, final=True)
    clock.now += 10
    pacer.edit_slot(99_999, final=True)
    assert len(pacer._channel_next) < 5000


def test_an_unused_progress_slot_is_given_back_to_the_final_edit():
    clock = Clock()
    pacer = Pacer(clock=clock)
    for edit in range(5):  # four progress edits, and a fifth slot reserved 1.3 s ahead
        _, delay = pacer.edit_slot(1, final=False)
        clock.now += delay if edit < 4 else 0.5
    pacer.release_edit(1, pacer.last_edit_start)  # the reply ended while that one waited
    assert pacer.edit_slot(1, final=True) == (True, 0.0)
    pacer.release_edit(1, -1.0)  # not a slot of this channel: nothing happens
    assert pacer.edit_slot(1, final=True)[1] > 0  # the window is full again
