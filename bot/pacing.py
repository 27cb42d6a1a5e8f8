"""When the bot may next touch Discord: per-channel edit spacing and a process-wide budget.

Discord allows about 5 message edits per 5 s in a channel and 50 REST requests in any second per
bot token. :class:`Pacer` hands out time slots below both; it never sleeps itself (the caller
does), so it is tested with a fake clock. First posts, final edits and thread creation may use
the whole budget and queue; progress edits and typing leave a reserve and never queue, so
finished replies are never starved by streaming ones.

Why a budget of 45, not 50 (``GLOBAL_RATE``): the pacer counts a request when it grants the slot,
Discord when the request arrives, and the two differ. The 5 spare requests a second cover:

* skew: the caller's sleep wakes late when the event loop is busy, discord.py may hold a request
  behind its per-route lock or aiohttp's connection pool, and network latency varies, so
  requests granted a second apart may arrive a little less than a second apart;
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
``retry_after`` has passed), so the bot slows down rather than fails; but a 429 counts towards
Discord's invalid-request limit (10,000 per 10 minutes), and a request refused five times is
lost. Charging every attempt, resends included, would need the budget inside discord.py's
``HTTPClient.request``, which this module does not reach.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .limits import EDIT_INTERVAL, GLOBAL_RATE, GLOBAL_WINDOW, PRIORITY_RESERVE


@dataclass(slots=True)
class Pacer:
    """Two kinds of slot, each an O(1) decision that returns how long to wait:

    * :meth:`edit_slot`, per channel: edits at least ``edit_interval`` apart. A progress edit
      is refused while another edit is already queued in the channel, so a busy channel never
      builds a queue of stale progress edits and a final edit waits for at most one edit ahead
      of it. The caller retries after the returned hint, with newer text.
    * :meth:`request_slot`, process-wide: at most ``rate`` slots in any ``window`` (one
      second), however they are mixed. Do not charge interaction callbacks or webhooks
      (``/interactions/``, ``/webhooks/``): Discord exempts them.

    The budget is a sliding-window log of the last ``rate`` granted send times, kept in a ring.
    Each new slot goes at least ``window`` after the slot ``rate`` places before it, and no
    earlier than now; as the clock and that older slot only move forward, slots come out in
    time order (queued ones first come, first served). Proof of the bound: if ``[s, s + window)``
    held ``rate + 1`` slots, they would be consecutive in that order, so the last would lie less
    than ``window`` after the one ``rate`` places before it. A non-priority slot goes now or not
    at all, and only if it lies ``window`` after the slot ``rate - reserve`` places before it:
    by the same argument, non-priority slots never hold more than ``rate - reserve`` of any
    window. That test also keeps them behind queued priority slots, since a slot is queued only
    when the window before it is full. Unlike a token bucket, which lets a full burst go on top
    of its rate, the log bounds every window, the one after a burst included.
    """

    edit_interval: float = EDIT_INTERVAL
    rate: int = GLOBAL_RATE  # slots in any window
    reserve: int = PRIORITY_RESERVE  # of ``rate``, for priority requests only
    window: float = GLOBAL_WINDOW
    clock: Callable[[], float] = time.monotonic
    _channel_next: dict[int, float] = field(default_factory=dict)
    _granted: list[float] = field(init=False, repr=False)  # the last ``rate`` slot times
    _oldest: int = field(init=False, default=0, repr=False)  # ring index of the oldest slot

    def __post_init__(self) -> None:
        if self.rate < 1 or not 0 <= self.reserve < self.rate:
            raise ValueError("a pacer needs rate >= 1 and 0 <= reserve < rate")
        self._granted = [-math.inf] * self.rate

    def edit_slot(self, channel_id: int, *, final: bool) -> tuple[bool, float]:
        """``(True, delay)``: a slot is reserved, edit after ``delay``. ``(False, hint)``: the
        channel is busy; try again after ``hint`` (progress edits only)."""
        now = self.clock()
        next_free = self._channel_next.get(channel_id, 0.0)
        if not final and next_free > now + self.edit_interval:
            return False, next_free - self.edit_interval - now
        start = max(now, next_free)
        self._channel_next[channel_id] = start + self.edit_interval
        if len(self._channel_next) > 4096:
            self._forget_idle(now)
        return True, start - now

    def request_slot(self, *, priority: bool = False) -> tuple[bool, float]:
        """Reserve one request against the process-wide budget. Priority requests (final
        edits, first posts, thread creation) always get a slot, queueing behind earlier ones
        if they must: ``(True, delay)``. Others get one only if they may go now, without using
        the reserve: ``(True, 0.0)``; otherwise ``(False, hint)``, the earliest moment one
        could go if no priority request comes first."""
        now = self.clock()
        granted, oldest = self._granted, self._oldest
        if priority:
            start = max(now, granted[oldest] + self.window)
        else:
            free_at = granted[(oldest + self.reserve) % self.rate] + self.window
            if free_at > now:
                return False, free_at - now
            start = now
        granted[oldest] = start  # the new slot replaces the oldest
        self._oldest = (oldest + 1) % self.rate
        return True, start - now

    def _forget_idle(self, now: float) -> None:
        for channel_id in [c for c, t in self._channel_next.items() if t < now]:
            del self._channel_next[channel_id]
