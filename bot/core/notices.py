"""Telling a refused person once in a while, not every message: :class:`NoticeThrottle`, for the
access lists' refusals (:mod:`bot.core.policy`), the limits' and the spending budgets' notices.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.core.bounded import LRU

NOTICE_EVERY = 300.0  # seconds: a refused person is told once in this long, not every message
NOTICE_PEOPLE = 10_000  # refused people remembered at once (NoticeThrottle)


class NoticeThrottle:
    """Whether to tell a refused person again: once per ``every`` seconds each. Bounded: those
    told more than ``every`` ago are forgotten, and at most ``NOTICE_PEOPLE`` are kept (past
    it, the longest told may be told again early)."""

    def __init__(
        self,
        every: float = NOTICE_EVERY,
        clock: Callable[[], float] = time.monotonic,
        maxsize: int = NOTICE_PEOPLE,
    ) -> None:
        self.every = every
        self.clock = clock
        self._told: LRU[int, float] = LRU(maxsize)  # oldest first: told times only grow

    def should_tell(self, user_id: int) -> bool:
        now = self.clock()
        if now - self._told.get(user_id, -self.every) < self.every:
            return False
        self._told[user_id] = now
        while now - next(iter(self._told.values())) >= self.every > 0:  # told long ago: forget
            self._told.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._told)
