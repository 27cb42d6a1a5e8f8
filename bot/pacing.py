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
    """Reserve slots with :meth:`reserve`; it returns how long to wait before using the slot.

    The global budget is a GCRA (a token bucket expressed as a "theoretical arrival time"), so
    each decision is O(1) and a reservation made now may be for a later time.
    """

    edit_interval: float = EDIT_INTERVAL
    rate: float = GLOBAL_RATE
    burst: int = GLOBAL_BURST
    final_reserve: int = FINAL_RESERVE
    clock: Callable[[], float] = time.monotonic
    _channel_next: dict[int, float] = field(default_factory=dict)
    _tat: float = 0.0  # theoretical arrival time of the global bucket

    def reserve(self, channel_id: int | None, *, final: bool = False, edit: bool = True) -> float:
        """Reserve the next slot for one request; returns the delay (seconds) until it.

        ``edit`` requests are also spaced per channel; sends, typing and thread creation
        (``edit=False``) only count against the global budget.
        """
        now = self.clock()
        start = self._global_slot(now, final)
        if edit and channel_id is not None:
            start = max(start, self._channel_next.get(channel_id, 0.0))
            self._channel_next[channel_id] = start + self.edit_interval
        interval = 1.0 / self.rate
        self._tat = max(self._tat, start) + interval
        if len(self._channel_next) > 4096:
            self._forget_idle(now)
        return max(0.0, start - now)

    def _global_slot(self, now: float, final: bool) -> float:
        interval = 1.0 / self.rate
        burst = self.burst if final else max(1, self.burst - self.final_reserve)
        tolerance = (burst - 1) * interval
        return max(now, self._tat - tolerance)

    def penalise(self, channel_id: int, retry_after: float) -> None:
        """Discord answered 429 anyway: push the channel's next edit past ``retry_after``."""
        now = self.clock()
        self._channel_next[channel_id] = max(
            self._channel_next.get(channel_id, 0.0), now + retry_after
        )

    def _forget_idle(self, now: float) -> None:
        for channel_id in [c for c, t in self._channel_next.items() if t < now]:
            del self._channel_next[channel_id]
