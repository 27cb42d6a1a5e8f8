"""A mapping that cannot outgrow its bound, for the process's caches keyed by things that come
and go (people, channels, model names someone typed): the least recently used entries go first.

Every structure that grows with users, channels, conversations or names says what bounds it (a
``maxsize`` here, a TTL, or "one per live reply"), and tests/bot/core/test_bounds.py checks it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(OrderedDict[K, V]):
    """At most ``maxsize`` entries. Setting a key makes it the newest; :meth:`touch` reads one
    and makes it the newest too; past the bound the oldest are forgotten (O(1) each)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("an LRU needs maxsize >= 1")
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)

    def touch(self, key: K) -> V | None:
        """The value for ``key`` (None when absent), now the most recently used."""
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


class TtlCache(Generic[K, V]):
    """At most ``maxsize`` values, each kept ``ttl`` seconds (the oldest go first)."""

    def __init__(
        self, ttl: float, maxsize: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.maxsize, self.clock = ttl, maxsize, clock
        self._items: LRU[K, tuple[float, V]] = LRU(maxsize)

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self._items[key]
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        self._items[key] = (self.clock() + self.ttl, value)

    def __len__(self) -> int:
        return len(self._items)
