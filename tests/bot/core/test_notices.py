"""Telling a refused person once in a while, and the member look-ups' cache."""

from __future__ import annotations

from bot.core.bounded import TtlCache
from bot.core.notices import NoticeThrottle
from tests.fakes.clock import Clock


def test_a_refused_person_is_told_once_in_a_while():
    clock = Clock()
    throttle = NoticeThrottle(every=300, clock=clock)
    assert throttle.should_tell(1) and not throttle.should_tell(1) and throttle.should_tell(2)
    clock.now = 301
    assert throttle.should_tell(1)


def test_the_look_up_cache_is_bounded_and_forgets():
    clock = Clock()
    cache: TtlCache[int, str] = TtlCache(ttl=600, maxsize=2, clock=clock)
    cache.put(1, "a")
    cache.put(2, "b")
    cache.put(3, "c")
    assert len(cache) == 2 and cache.get(1) is None and cache.get(3) == "c"
    clock.now = 601
    assert cache.get(2) is None and cache.get(3) is None
