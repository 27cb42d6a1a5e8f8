"""The pacer, with a fake clock: per-channel spacing, busy channels, a global budget, priorities."""

from __future__ import annotations

import bisect
import heapq
import math
import random

import pytest

from bot.core.discord_limits import EDIT_INTERVAL, EDIT_WINDOW, GLOBAL_LIMIT, GLOBAL_RATE
from bot.core.pacing import Pacer
from tests.fakes.clock import Clock


def test_edits_in_one_channel_are_spaced():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock)
    assert pacer.edit_slot(1, final=False) == (True, 0.0)
    granted, delay = pacer.edit_slot(1, final=False)
    assert granted and delay == pytest.approx(EDIT_INTERVAL)


def test_a_post_spaces_the_next_progress_edit_but_not_a_final_one():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock)
    pacer.posted(1)
    granted, delay = pacer.edit_slot(1, final=False)
    assert granted and delay == pytest.approx(EDIT_INTERVAL)  # as if the post were an edit
    assert pacer.edit_slot(1, final=True) == (True, 0.0)  # the reply's end shows at once
    assert pacer.edit_slot(2, final=False) == (True, 0.0)  # another channel does not wait


def test_channels_do_not_wait_for_each_other():
    pacer = Pacer(clock=Clock(1000.0))
    assert [pacer.edit_slot(channel, final=False) for channel in range(10)] == [(True, 0.0)] * 10


def test_a_busy_channel_refuses_progress_edits_but_queues_finals():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock)
    pacer.edit_slot(1, final=False)
    pacer.edit_slot(1, final=False)  # one edit queued behind the current one
    granted, hint = pacer.edit_slot(1, final=False)
    assert not granted and hint == pytest.approx(EDIT_INTERVAL)
    granted, delay = pacer.edit_slot(1, final=True)  # never refused; the window has room
    assert granted and delay == 0.0


def test_a_final_edit_waits_only_when_the_channels_window_is_full():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock)
    for _ in range(4):  # progress edits, spaced
        granted, delay = pacer.edit_slot(1, final=False)
        clock.now += delay
    assert pacer.edit_slot(1, final=True) == (True, 0.0)  # the fifth, at once
    granted, delay = pacer.edit_slot(1, final=True)  # a sixth would be one too many
    assert granted and delay == pytest.approx(EDIT_WINDOW - 3 * EDIT_INTERVAL)


def test_never_more_than_five_edits_in_five_seconds_per_channel():
    clock = Clock(1000.0)
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


def settle_at_once(pacer: Pacer, count: int, *, priority: bool = True) -> list[float]:
    """Let ``count`` requests go now and answer each at once; their tickets."""
    tickets = []
    for _ in range(count):
        ticket, _ = pacer.request_slot(priority=priority)
        assert ticket is not None
        pacer.request_done(ticket)
        tickets.append(ticket)
    return tickets


def test_a_full_budget_frees_a_place_a_window_after_the_oldest_answer():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=10, reserve=2)
    settle_at_once(pacer, 10)
    clock.now += 0.3
    ticket, hint = pacer.request_slot(priority=True)
    assert ticket is None and hint == pytest.approx(0.7)
    clock.now += hint
    assert pacer.request_slot(priority=True)[0] == clock.now


def test_a_request_in_flight_holds_its_place_until_a_window_after_its_answer():
    """Discord may count it any time until its answer comes back, however late that is."""
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=5, reserve=1)
    tickets = [pacer.request_slot(priority=True)[0] for _ in range(5)]
    clock.now += 3.0  # a stalled loop, a slow Discord: no answers yet
    assert pacer.request_slot(priority=True) == (None, math.inf)  # no telling when
    pacer.request_done(tickets[0])
    ticket, hint = pacer.request_slot(priority=True)
    assert ticket is None and hint == pytest.approx(1.0)
    clock.now += 1.0
    assert pacer.request_slot(priority=True)[0] is not None


def test_a_request_never_answered_frees_its_place_after_its_lease():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=5, reserve=1, lease=30.0)
    tickets = [pacer.request_slot(priority=True)[0] for _ in range(5)]
    clock.now += 29.0
    assert pacer.request_slot(priority=True)[0] is None
    clock.now += 1.0
    assert pacer.request_slot(priority=True)[0] is not None
    for ticket in tickets:  # answered at last: Discord may have counted them until now
        pacer.request_done(ticket)
    assert pacer.request_slot(priority=True)[0] is None


def test_peek_looks_again_within_a_window_while_requests_are_in_flight():
    pacer = Pacer(clock=Clock(1000.0), rate=5, reserve=1)
    for _ in range(4):
        pacer.request_slot()
    assert pacer.peek() == (False, pacer.window)


def test_ordinary_requests_leave_the_reserve():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=45, reserve=10)
    settle_at_once(pacer, 35, priority=False)
    ticket, hint = pacer.request_slot()
    assert ticket is None and hint == pytest.approx(1.0)
    assert pacer.peek() == (False, pytest.approx(1.0))
    assert len(settle_at_once(pacer, 10)) == 10  # the reserve was there for priority requests
    assert pacer.request_slot(priority=True)[0] is None


def test_peek_takes_nothing():
    pacer = Pacer(clock=Clock(1000.0), rate=20, reserve=10)
    for _ in range(100):
        assert pacer.peek() == (True, 0.0)
    assert len(settle_at_once(pacer, 20)) == 20


@pytest.mark.parametrize(("rate", "reserve"), [(0, 0), (10, 10), (10, -1)])
def test_a_budget_must_leave_room(rate, reserve):
    with pytest.raises(ValueError, match="reserve"):
        Pacer(rate=rate, reserve=reserve)


def simulate(
    seed: int,
    pacer: Pacer,
    clock: Clock,
    *,
    per_second: float,
    priority_share: float,
    bursts: float,
    latency: tuple[float, float],
    stalls: float,
    seconds: float = 20.0,
) -> tuple[list[tuple[float, bool]], int]:
    """Requests arrive at random (some in bursts at one instant) and wait in two lines, as
    :class:`bot.core.rest_budget.Gate` keeps them; each one let go takes a random round trip (some
    stall for up to a second), and Discord counts it at a random moment of that round trip.
    Returns (when Discord counted each, priority) and how many were let go."""
    rng = random.Random(seed)
    events: list[tuple[float, int, str, object]] = []  # (time, order, kind, data)
    order = 0

    def at(when: float, kind: str, data: object = None) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (when, order, kind, data))

    now = clock.now
    while now < clock.now + seconds:
        now += rng.expovariate(per_second)
        for _ in range(rng.randint(2, 60) if rng.random() < bursts else 1):
            at(now, "ask", rng.random() < priority_share)
    lines: dict[bool, list[bool]] = {True: [], False: []}
    asking: dict[bool, float] = {}  # when each line's head asks again
    counted: list[tuple[float, bool]] = []
    let_go = 0
    while events:
        clock.now, _, kind, data = heapq.heappop(events)
        if kind == "ask":
            lines[bool(data)].append(bool(data))
        elif kind == "answer":
            pacer.request_done(data)  # type: ignore[arg-type]
        elif kind == "retry":
            asking.pop(bool(data), None)
        for priority in (True, False):  # each line's head asks, as the gate's would
            while lines[priority] and priority not in asking:
                ticket, hint = pacer.request_slot(priority=priority)
                if ticket is None:
                    assert hint >= 0.0
                    asking[priority] = clock.now + (0.05 if hint == math.inf else max(hint, 1e-3))
                    at(asking[priority], "retry", priority)
                    break
                lines[priority].pop(0)
                let_go += 1
                trip = rng.uniform(*latency) + (rng.uniform(0, 1.0) if rng.random() < stalls else 0)
                counted.append((clock.now + rng.uniform(0, trip), priority))
                at(clock.now + trip, "answer", ticket)
    return counted, let_go


@pytest.mark.parametrize(
    ("seed", "rate", "reserve", "per_second", "priority_share", "bursts", "stalls"),
    [
        (1, 45, 10, 20, 0.5, 0.0, 0.0),  # light load
        (2, 45, 10, 60, 0.3, 0.0, 0.05),  # over budget, mostly progress edits
        (3, 45, 10, 60, 0.9, 0.0, 0.05),  # over budget, mostly first posts and final edits
        (4, 45, 10, 200, 0.5, 0.0, 0.2),  # four times the budget, many stalls
        (5, 45, 10, 100, 0.2, 0.05, 0.05),  # some arrivals are bursts of up to 60 at once
        (6, 45, 0, 100, 0.5, 0.03, 0.05),  # no reserve
        (7, 45, 10, 100, 0.5, 0.03, 0.5),  # half the requests stall
        (8, 10, 4, 30, 0.5, 0.03, 0.05),  # a small budget
        (9, 450, 10, 1000, 0.4, 0.03, 0.05),  # a bot that Discord granted more
        (10, 45, 10, 45, 1.0, 0.02, 0.05),  # priority only, at the budget
        (11, 45, 10, 300, 0.0, 0.05, 0.05),  # progress edits and typing only
    ],
)
def test_discord_never_counts_more_than_the_rate_in_a_window(
    seed, rate, reserve, per_second, priority_share, bursts, stalls
):
    """However late requests leave or come back, Discord never counts more than ``rate`` in
    any one-second window, nor ordinary requests more than ``rate - reserve``; a saturated
    budget is still used."""
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=rate, reserve=reserve)
    counted, let_go = simulate(
        seed, pacer, clock, per_second=per_second, priority_share=priority_share,
        bursts=bursts, latency=(0.02, 0.15), stalls=stalls,
    )  # fmt: skip
    times = [t for t, _ in counted]
    assert busiest(times) <= rate
    assert busiest([t for t, priority in counted if not priority]) <= rate - reserve
    if per_second > 1.5 * rate:  # a saturated budget is used, not wasted
        limit = rate if priority_share else rate - reserve
        assert let_go >= 0.7 * 20 * limit / 1.15  # each place is held a round trip and a window


def test_the_default_budget_leaves_a_margin_under_discords_limit():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock)
    counted, _ = simulate(
        1, pacer, clock, per_second=200, priority_share=0.5, bursts=0.05,
        latency=(0.0, 0.01), stalls=0.1,
    )  # fmt: skip
    assert pacer.rate == GLOBAL_RATE < GLOBAL_LIMIT
    assert busiest([t for t, _ in counted]) <= GLOBAL_RATE


def test_idle_channels_are_forgotten():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock)
    for channel in range(5000):
        pacer.edit_slot(channel, final=True)
    clock.now += 10
    pacer.edit_slot(99_999, final=True)
    assert len(pacer._channel_next) < 5000


def test_an_unused_progress_slot_is_given_back_to_the_final_edit():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock)
    for edit in range(5):  # four progress edits, and a fifth slot reserved 1.3 s ahead
        _, delay = pacer.edit_slot(1, final=False)
        clock.now += delay if edit < 4 else 0.5
    pacer.release_edit(1, pacer.last_edit_start)  # the reply ended while that one waited
    assert pacer.edit_slot(1, final=True) == (True, 0.0)
    pacer.release_edit(1, -1.0)  # not a slot of this channel: nothing happens
    assert pacer.edit_slot(1, final=True)[1] > 0  # the window is full again


def test_peek_heeds_a_shared_budget_for_a_moment():
    clock = Clock(1000.0)
    pacer = Pacer(clock=clock, rate=10, reserve=3)
    pacer.saw(7)  # other processes hold the places progress edits may use
    granted, hint = pacer.peek()
    assert not granted and hint > 0
    clock.now += 1.0  # what Redis said a second ago says nothing now
    assert pacer.peek() == (True, 0.0)
    pacer.saw(6)
    assert pacer.peek() == (True, 0.0)
