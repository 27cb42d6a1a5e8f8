"""When the bot may next touch Discord: per-channel edit spacing and a process-wide budget.

Discord allows about 5 message edits per 5 s in a channel and 50 REST requests in any second per
bot token. :class:`Pacer` hands out time slots below both; it never sleeps itself (the caller
does), so it is tested with a fake clock. First posts, final edits and thread creation may use
the whole budget and queue; progress edits and typing leave a reserve and never queue, so
finished replies are never starved by streaming ones.

Why a budget of 45, not 50 (``GLOBAL_RATE``): the pacer counts a request when it grants the slot,
Discord when the request arrives. The 5 spare requests a second are for the difference:

* skew: the caller's sleep wakes late when the event loop is busy, aiohttp may wait for a
  connection, and network latency varies. Slots are spread out (at most ``burst`` at once, then
  one every ``1/rate`` s), so if every request arrives within ``d`` of its slot, Discord counts
  fewer than ``burst + rate·(1 + d)`` in any second: within 50 for ``d`` up to 66 ms. A burst
  of 45 at once, as a bare sliding window allows, would leave no room for any skew.
* requests the pacer never sees: REST calls made without asking it (start-up, command sync,
  mending replies after a crash, discord.py renewing a typing indicator every 5 s), and
  discord.py's own retries. discord.py resends a request by itself after a 429 (once
  ``retry_after`` has passed) or a 500/502/504/524 (after 1 + 2·n s), up to 5 attempts, and
  those resends bypass this pacer.

Does the margin cover the retries? In steady state, yes: a resend follows only an error answer,
and with edits spaced per channel and this budget the bot earns no 429s of its own, so resends
are a stray few a second at most. It does not cover a storm: if Discord answers a whole second's
requests with 5xx, discord.py resends them all a second later on top of that second's budget,
and the bot may meet global 429s. discord.py honours those (it holds every new request until
``retry_after`` has passed), so the bot slows down; but each 429 counts towards Discord's
invalid-request limit (10,000 per 10 minutes), and a request refused five times is lost.

Nor does it cover a request sent long after its slot. discord.py queues a request behind its
per-route limit (before it learns a route's limit, one request at a time: all thread creations
in one channel go one by one), so a burst of such requests reaches Discord seconds late, on top
of later slots. Both gaps close only where every attempt leaves, which is where the bot charges
them: :mod:`bot.rest_gate`, an ``aiohttp.TraceConfig`` hook (discord.py's ``http_trace``) that
waits for a slot before each request, resends included. Callers only :meth:`Pacer.peek` to skip
what may be skipped.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .limits import (
    EDIT_INTERVAL,
    EDIT_WINDOW,
    EDITS_PER_WINDOW,
    GLOBAL_BURST,
    GLOBAL_RATE,
    GLOBAL_WINDOW,
    PRIORITY_RESERVE,
)

_ROUNDING = 1e-9  # seconds


@dataclass(slots=True)
class Pacer:
    """Two kinds of slot, each an O(1) decision that returns how long to wait:

    * :meth:`edit_slot`, per channel: edits at least ``edit_interval`` apart. A progress edit
      is refused while another edit is already queued in the channel, so a busy channel never
      builds a queue of stale progress edits and a final edit waits for at most one edit ahead
      of it. The caller retries after the returned hint, with newer text.
    * :meth:`request_slot`, process-wide: at most ``rate`` slots in any ``window`` (one
      second), however they are mixed, and at most ``burst`` at once. Do not charge
      interaction callbacks or webhooks (``/interactions/``, ``/webhooks/``): Discord exempts
      them.

    Two rules, both O(1). A sliding-window log (the last ``rate`` slot times, in a ring): each
    slot lies at least ``window`` after the slot ``rate`` places before it. And a GCRA (a token
    bucket kept as a "theoretical arrival time") at ``rate / window`` with ``burst``, which
    spreads the slots out. Slots come out in time order, by induction: a slot is no earlier
    than now; one the log queued is no later than the log's bound for the next (the ring is in
    order), and one the GCRA queued lies one interval before the GCRA's bound for the next.

    Proof of the bound: if ``[s, s + window)`` held ``rate + 1`` slots, they would be
    consecutive in time order, so the last would lie less than ``window`` after the one ``rate``
    places before it. A non-priority slot goes now or not at all, and only if it lies ``window``
    after the slot ``rate - reserve`` places before it: by the same argument, non-priority slots
    never hold more than ``rate - reserve`` of any window, and a priority request always finds
    the rest. (The GCRA alone would allow ``burst - 1`` more in a window.)
    """

    edit_interval: float = EDIT_INTERVAL
    edit_window: float = EDIT_WINDOW  # at most EDITS_PER_WINDOW edits in it (0: no such rule)
    rate: int = GLOBAL_RATE  # slots in any window
    reserve: int = PRIORITY_RESERVE  # of ``rate``, for priority requests only
    burst: int = GLOBAL_BURST  # slots at once
    window: float = GLOBAL_WINDOW
    clock: Callable[[], float] = time.monotonic
    _channel_next: dict[int, float] = field(default_factory=dict)
    _edit_log: dict[int, deque[float]] = field(default_factory=dict)  # last edits per channel
    last_edit_start: float = 0.0  # the slot :meth:`edit_slot` granted last, to release it
    _granted: list[float] = field(init=False, repr=False)  # the last ``rate`` slot times
    _oldest: int = field(init=False, default=0, repr=False)  # ring index of the oldest slot
    _tat: float = field(init=False, default=-math.inf, repr=False)  # the GCRA's clock

    def __post_init__(self) -> None:
        if self.rate < 1 or not 0 <= self.reserve < self.rate or self.burst < 1:
            raise ValueError("a pacer needs rate >= 1, 0 <= reserve < rate and burst >= 1")
        self._granted = [-math.inf] * self.rate

    def edit_slot(self, channel_id: int, *, final: bool) -> tuple[bool, float]:
        """``(True, delay)``: a slot is reserved, edit after ``delay``. ``(False, hint)``: the
        channel is busy; try again after ``hint`` (progress edits only).

        Progress edits are spaced ``edit_interval`` apart (at most 4 in Discord's 5 s), which
        leaves the fifth for a final edit: it goes at once unless the channel's last
        ``EDITS_PER_WINDOW`` edits all fall within ``EDIT_WINDOW``."""
        now = self.clock()
        edits = self._edit_log.setdefault(channel_id, deque(maxlen=EDITS_PER_WINDOW))
        full = self.edit_window and len(edits) == EDITS_PER_WINDOW
        window_free = edits[0] + self.edit_window if full else now
        next_free = self._channel_next.get(channel_id, 0.0)
        if final:
            start = max(now, window_free)
        else:
            start = max(now, next_free, window_free)
            if start > now + self.edit_interval:
                return False, start - self.edit_interval - now
        edits.append(start)
        self.last_edit_start = start
        self._channel_next[channel_id] = max(next_free, start + self.edit_interval)
        if len(self._channel_next) > 4096:
            self._forget_idle(now)
        return True, start - now

    def release_edit(self, channel_id: int, start: float) -> None:
        """Give back an edit slot unused (a progress edit that the reply's end made moot;
        ``start`` is the :attr:`last_edit_start` it was granted): the reply's final edit may
        take its place in Discord's window. Other replies' slots in the channel stay."""
        edits = self._edit_log.get(channel_id)
        if edits is not None and start in edits:
            edits.remove(start)

    def request_slot(self, *, priority: bool = False) -> tuple[bool, float]:
        """Reserve one request against the process-wide budget. Priority requests (final
        edits, first posts, thread creation) always get a slot, queueing behind earlier ones
        if they must: ``(True, delay)``. Others get one only if they may go now, without using
        the reserve: ``(True, 0.0)``; otherwise ``(False, hint)``, the earliest moment one
        could go if no priority request comes first."""
        now = self.clock()
        granted, oldest = self._granted, self._oldest
        interval = self.window / self.rate
        # The earliest the GCRA allows, less its float rounding (the log's bound stays exact).
        spaced = self._tat - (self.burst - 1) * interval - _ROUNDING
        if priority:
            start = max(now, granted[oldest] + self.window, spaced)
        else:
            free_at = max(granted[(oldest + self.reserve) % self.rate] + self.window, spaced)
            if free_at > now:
                return False, free_at - now
            start = now
        granted[oldest] = start  # the new slot replaces the oldest
        self._oldest = (oldest + 1) % self.rate
        self._tat = max(self._tat, start) + interval
        return True, start - now

    def peek(self) -> tuple[bool, float]:
        """Whether a non-priority request could go now, without reserving anything: the
        caller skips a progress edit or a typing indicator when it could not. ``(False, hint)``
        says when one could, if no priority request comes first."""
        interval = self.window / self.rate
        spaced = self._tat - (self.burst - 1) * interval - _ROUNDING
        free_at = max(
            self._granted[(self._oldest + self.reserve) % self.rate] + self.window, spaced
        )
        now = self.clock()
        return (True, 0.0) if free_at <= now else (False, free_at - now)

    def _forget_idle(self, now: float) -> None:
        for channel_id in [c for c, t in self._channel_next.items() if t < now]:
            del self._channel_next[channel_id]
            self._edit_log.pop(channel_id, None)
