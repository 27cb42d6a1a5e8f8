"""When the bot may next touch Discord: per-channel edit spacing and a process-wide budget.

Discord allows about 5 message edits per 5 s in a channel and 50 REST requests in any second per
bot token. :class:`Pacer` hands out slots below both; it never sleeps itself (the caller does),
so it is tested with a fake clock. First posts, final edits and thread creation may use the
whole budget; progress edits and typing leave a reserve, so finished replies are never starved
by streaming ones.

The budget counts a request from the moment it is let go until a window after its answer. Why
not from a planned send time, as a token bucket would: Discord counts a request when it
arrives, and under load the two drift apart. A busy event loop wakes sleepers late, so requests
planned a second apart leave together; aiohttp writes a body a loop pass after its headers;
discord.py holds a request behind its per-route lock. Whatever the delay, a request arrives
after it was let go and before its answer comes back, so counting it over that whole span (and
a window after) is exact, with no assumption about timing: if some one-second window at
Discord held ``rate + 1`` requests, then when the last of them was let go, every other one was
either in flight or answered less than a window before, and the budget, which counted all of
them, would have refused it. A request in flight holds its place until its answer is in, so a
slow Discord slows the bot down, as it should. The price is a window plus one round trip per
place: at 100 ms from Discord, 45 places allow about 41 requests a second.

Where the proof stops: a request that fails on our side (a timeout, a cancellation) is settled
when it fails, though bytes already written may still reach Discord a moment later; and one in
flight longer than its lease (``REQUEST_LEASE``, 30 s: a request discord.py held behind a
route, or one whose process died, with the budget in Redis) stops counting until its answer.

:mod:`bot.core.rest_budget` charges every attempt where it leaves (an ``aiohttp`` trace hook, so
discord.py's resends, typing renewals and command sync are counted too) and settles it when the
answer or the failure arrives. ``GLOBAL_RATE`` stays 10% under Discord's 50 for what this
process cannot see: other clients using the same token, and how Discord draws its windows,
which it does not document. Callers only :meth:`Pacer.peek` to skip what may be skipped.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.discord_limits import (
    EDIT_INTERVAL,
    EDIT_WINDOW,
    EDITS_PER_WINDOW,
    GLOBAL_RATE,
    GLOBAL_WINDOW,
    PRIORITY_RESERVE,
    REQUEST_LEASE,
)

SHARED_FRESH = 0.25  # seconds a shared budget's count is taken as current
IDLE_SWEEP = 256  # channels tracked before idle ones are forgotten...
SWEEP_EVERY = 10.0  # ...in a sweep at most this often (seconds)


@dataclass(slots=True)
class Pacer:
    """Two kinds of slot, each a quick decision that says how long to wait:

    * :meth:`edit_slot`, per channel: edits at least ``edit_interval`` apart. A progress edit
      is refused while another edit is already queued in the channel, so a busy channel never
      builds a queue of stale progress edits and a final edit waits for at most one edit ahead
      of it. The caller retries after the returned hint, with newer text.
    * :meth:`request_slot`, process-wide: at most ``rate`` requests in flight or answered
      within the last ``window``, non-priority ones only while ``reserve`` of those places stay
      free. A request let go is settled with :meth:`request_done` when its answer (or
      failure) is in. Interaction callbacks and webhooks are not charged: Discord exempts them.
      Nothing spaces requests out within the budget: the count is exact however they bunch,
      and twenty replies starting together should all show at once.

    Requests are let go only now, never booked for later: how long the ones in flight take is
    not known in advance. :mod:`bot.core.rest_budget` keeps waiting requests in line.
    """

    edit_interval: float = EDIT_INTERVAL
    edit_window: float = EDIT_WINDOW  # at most EDITS_PER_WINDOW edits in it (0: no such rule)
    rate: int = GLOBAL_RATE  # requests in flight, or answered within the last window
    reserve: int = PRIORITY_RESERVE  # of ``rate``, for priority requests only
    window: float = GLOBAL_WINDOW
    clock: Callable[[], float] = time.monotonic
    # Per channel, bounded by the channels edited lately: past IDLE_SWEEP, those with no edit
    # ahead or in Discord's window are forgotten, in a sweep at most every SWEEP_EVERY seconds.
    _channel_next: dict[int, float] = field(default_factory=dict)
    _edit_log: dict[int, deque[float]] = field(default_factory=dict)  # last edits per channel
    last_edit_start: float = 0.0  # the slot :meth:`edit_slot` granted last, to release it
    lease: float = REQUEST_LEASE  # a request never settled stops counting after this
    _in_flight: deque[float] = field(default_factory=deque, repr=False)  # when each was let go
    _answered: deque[float] = field(default_factory=deque, repr=False)  # settled, in the window
    _shared: tuple[int, float] = (0, -math.inf)  # a shared budget's places taken, and when
    _swept: float = -math.inf  # when idle channels were last forgotten

    def __post_init__(self) -> None:
        if self.rate < 1 or not 0 <= self.reserve < self.rate:
            raise ValueError("a pacer needs rate >= 1 and 0 <= reserve < rate")

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
        if len(self._channel_next) > IDLE_SWEEP and now - self._swept >= SWEEP_EVERY:
            self._forget_idle(now)
            self._swept = now
        return True, start - now

    def posted(self, channel_id: int) -> None:
        """A message was just posted in the channel: the next progress edit waits as it would
        after an edit. (One at once would show a few more words for a request that, with many
        replies starting together, first posts need more.)"""
        next_free = self._channel_next.get(channel_id, 0.0)
        self._channel_next[channel_id] = max(next_free, self.clock() + self.edit_interval)

    def release_edit(self, channel_id: int, start: float) -> None:
        """Give back an edit slot unused (a progress edit that the reply's end made moot;
        ``start`` is the :attr:`last_edit_start` it was granted): the reply's final edit may
        take its place in Discord's window. Other replies' slots in the channel stay."""
        edits = self._edit_log.get(channel_id)
        if edits is not None and start in edits:
            edits.remove(start)

    def request_slot(self, *, priority: bool = False) -> tuple[float | None, float]:
        """Let one request go now: ``(ticket, 0.0)``; give the ticket to :meth:`request_done`
        when its answer is in. Or ``(None, hint)``: try again after ``hint`` seconds, or, when
        it is ``math.inf``, once a request in flight settles (only those fill the budget)."""
        now = self.clock()
        granted, hint = self._room(now, priority)
        if not granted:
            return None, hint
        self._in_flight.append(now)
        return now, 0.0  # the ticket is the moment it was let go

    def request_done(self, ticket: float) -> None:
        """The request has its answer (or failed): it counts for one more window from now,
        since Discord may have counted it up to now."""
        with contextlib.suppress(ValueError):  # its lease ran out: it still counts from now
            self._in_flight.remove(ticket)
        self._answered.append(self.clock())

    def peek(self) -> tuple[bool, float]:
        """Whether a non-priority request could go now, without taking anything: the caller
        skips a progress edit or a typing indicator when it could not. ``(False, hint)`` says
        when to look again: at most a window, since while only requests in flight fill the
        budget nobody knows when a place frees. With the budget in Redis, what it said last
        (:meth:`saw`), if recent."""
        now = self.clock()
        granted, hint = self._room(now, priority=False)
        taken, at = self._shared
        if granted and now - at < SHARED_FRESH and taken >= self.rate - self.reserve:
            return False, SHARED_FRESH
        return granted, min(hint, self.window)

    def saw(self, taken: int) -> None:
        """How many places a budget shared by every process (in Redis) held at its last
        decision: :meth:`peek` heeds it for a moment, as it heeds this process's own count."""
        self._shared = (taken, self.clock())

    def _room(self, now: float, priority: bool) -> tuple[bool, float]:
        answered, in_flight = self._answered, self._in_flight
        while answered and answered[0] <= now - self.window:
            answered.popleft()
        while in_flight and in_flight[0] <= now - self.lease:
            in_flight.popleft()
        places = self.rate if priority else self.rate - self.reserve
        over = len(answered) + len(in_flight) - places  # >= 0: that many more must leave first
        if over < 0:
            return True, 0.0
        if over < len(answered):  # answered requests leave the window in order
            return False, answered[over] + self.window - now
        return False, math.inf

    def _forget_idle(self, now: float) -> None:
        """Forget the channels with no edit ahead and none in Discord's window: for them, no
        record is the same as their record."""
        for channel_id in [c for c, t in self._channel_next.items() if t < now]:
            edits = self._edit_log.get(channel_id)
            if edits and edits[-1] > now - self.edit_window:
                continue
            del self._channel_next[channel_id]
            self._edit_log.pop(channel_id, None)
