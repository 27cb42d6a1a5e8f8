"""When the bot may next touch Discord: per-channel edit spacing and a process-wide budget.

Discord allows about 5 message edits per 5 s in a channel and 50 requests per second per bot
token. :class:`Pacer` hands out time slots below both limits; it never sleeps itself (the caller
does), so it is tested with a fake clock. Final edits may use the whole global budget; progress
edits leave a reserve so that finished replies are never starved by streaming ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .limits import EDIT_INTERVAL, FINAL_RESERVE, GLOBAL_BURST, GLOBAL_RATE


@dataclass(slots=True)
class Pacer:
    """Two kinds of slot, each an O(1) decision that returns how long to wait:

    * :meth:`edit_slot`, per channel: edits at least ``edit_interval`` apart. A progress edit
      is refused (``None``) while another edit is already queued in the channel, so a busy
      channel never builds a queue of stale progress edits and a final edit waits for at most
      one edit ahead of it. The caller retries after the returned hint, with newer text.
    * :meth:`request_slot`, process-wide: a GCRA (a token bucket written as a "theoretical
      arrival time") at ``rate`` per second. Final edits and first posts may use the whole
      burst and queue; other requests leave ``final_reserve`` of it free and never queue, so
      under load the requests that matter go first.
    """

    edit_interval: float = EDIT_INTERVAL
    rate: float = GLOBAL_RATE
    burst: int = GLOBAL_BURST
    final_reserve: int = FINAL_RESERVE
    clock: Callable[[], float] = time.monotonic
    _channel_next: dict[int, float] = field(default_factory=dict)
    _tat: float = 0.0  # theoretical arrival time of the global bucket

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
        edits, first posts, thread creation) always get a slot, queueing if they must:
        ``(True, delay)``. Others get one only while the budget, less its reserve, has room
        now; otherwise ``(False, hint)``, so they never queue ahead of priority requests."""
        now = self.clock()
        interval = 1.0 / self.rate
        burst = self.burst if priority else max(1, self.burst - self.final_reserve)
        start = max(now, self._tat - (burst - 1) * interval)
        if not priority and start > now + 1e-9:  # (float rounding)
            return False, start - now
        self._tat = max(self._tat, now) + interval
        return True, start - now

    def _forget_idle(self, now: float) -> None:
        for channel_id in [c for c, t in self._channel_next.items() if t < now]:
            del self._channel_next[channel_id]
