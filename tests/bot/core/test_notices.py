"""Telling a refused person once in a while, and the member look-ups' cache."""

from __future__ import annotations

from bot.core.bounded import TtlCache
from bot.core.notices import NoticeThrottle


def test_a_refused_person_is_told_once_in_a_while():
    now = [0.0]
    throttle = NoticeThrottle(every=300, clock=lambda: now[0])
    assert throttle.should_tell(1) and not throttle.should_tell(1) and throttle.should_tell(2)
    now[0] = 301
    assert throttle.should_tell(1)


def test_the_look_up_cache_is_bounded_and_forgets():
    now = [0.0]
    cache: TtlCache[int, str] = TtlCache(ttl=600, maxsize=2, clock=lambda: now[0])
    cache.put(1, "a")
    cache.put(2, "b")
    cache.put(3, "c")
    assert len(cache) == 2 and cache.get(1) is None and cache.get(3) == "c"
    now[0] = 601
    assert cache.get(2) is None and cache.get(3) is None
