"""The one fake clock of the tests: it says ``now`` until the test moves it."""

from __future__ import annotations

import asyncio


class Clock:
    """Pass it where the code takes a clock (``Callable[[], float]``); set or advance ``now``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """For code that takes a ``sleep``: time passes at once, and other tasks get a turn."""
        self.now += seconds
        await asyncio.sleep(0)
