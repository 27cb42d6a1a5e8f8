"""The limiters with a fake clock: refill, burst, per-user vs per-server, usage correction.

Every scenario runs against both limiters: in process, and in Redis (where the fake clock stands
in for the server's time). Redis-only behaviour (sharing, expiry, outages) is in
test_ratelimit_redis.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bot.core.ratelimit import (
    Decision,
    Limit,
    Limiter,
    LocalLimiter,
    Ticket,
    TokenBucket,
    parse_reset,
    scope_of,
)
from bot.services.ratelimit.redis import LIMITS, PRIVATE_LIMITS, RedisLimiter
from tests.databases import fresh_prefix, redis_url
from tests.fakes.clock import Clock

# Scenario steps. An Acquire expects a grant (GRANTED) or a refusal naming a limit, with the wait
# it must report (None: any wait). Settle corrects the nth granted ticket.
GRANTED = None


@dataclass(frozen=True, slots=True)
class Refused:
    limit: str
    wait: float | None = None


@dataclass(frozen=True, slots=True)
class Acquire:
    scope: int
    user: int
    tokens: int
    expect: Refused | None = GRANTED


@dataclass(frozen=True, slots=True)
class Advance:
    seconds: float


@dataclass(frozen=True, slots=True)
class Settle:
    nth: int
    actual: int


@dataclass(frozen=True, slots=True)
class Charge:
    scope: int
    tokens: int


@dataclass(frozen=True, slots=True)
class Observe:
    headers: dict[str, str] = field(hash=False)


def low(kind: str, reset: str, remaining: str = "3") -> Observe:
    """Headers of an account down to ``remaining`` of 500 requests or 10,000 tokens."""
    limit = "500" if kind == "requests" else "10000"
    return Observe({f"x-ratelimit-limit-{kind}": limit, f"x-ratelimit-remaining-{kind}": remaining,
                    f"x-ratelimit-reset-{kind}": reset})  # fmt: skip


Step = Acquire | Advance | Settle | Charge | Observe
LIMITS_OFF = {"rpm": 0, "tpm": 0, "user_rpm": 0, "dm_rpm": 0, "dm_tpm": 0}

SCENARIOS: dict[str, tuple[dict[str, int], list[Step]]] = {
    "a burst, then a refusal naming the limit (3 per minute: one every 20 s)": (
        {"rpm": 3, "tpm": 1000},
        [*[Acquire(1, 10, 10)] * 3, Acquire(1, 10, 10, Refused(Limit.SERVER_REQUESTS, 20.0))],
    ),
    "continuous refill, not calendar minutes": (
        {"rpm": 3, "tpm": 1000},
        [*[Acquire(1, 10, 10)] * 3, Advance(19.9), Acquire(1, 10, 10, Refused(Limit.SERVER_REQUESTS)),
         Advance(0.2), Acquire(1, 10, 10)],
    ),
    "refused requests cost nothing": (
        {"rpm": 1, "tpm": 1000},
        [Acquire(1, 10, 10), *[Acquire(1, 10, 10, Refused(Limit.SERVER_REQUESTS))] * 5, Advance(60),
         Acquire(1, 10, 10)],
    ),
    "servers are independent and each person's DMs have a budget of their own": (
        {"rpm": 1, "tpm": 1000, "dm_rpm": 1},
        [Acquire(scope_of(1, 10), 10, 1), Acquire(scope_of(1, 11), 11, 1, Refused(Limit.SERVER_REQUESTS)),
         Acquire(scope_of(2, 10), 10, 1), Acquire(scope_of(None, 10), 10, 1),
         Acquire(scope_of(None, 11), 11, 1)],
    ),
    "a DM user hits DM_RPM while the server's budget is untouched": (
        {"rpm": 30, "tpm": 60_000, "dm_rpm": 2, "dm_tpm": 60_000},
        [*[Acquire(scope_of(None, 10), 10, 100)] * 2,
         Acquire(scope_of(None, 10), 10, 100, Refused(Limit.PRIVATE_REQUESTS, 30.0)),
         *[Acquire(scope_of(1, 10), 10, 100)] * 30,  # the server's 30, all there
         Acquire(scope_of(1, 11), 11, 100, Refused(Limit.SERVER_REQUESTS, 2.0))],
    ),
    "DM tokens: their own allowance, corrected and charged like a server's": (
        {"tpm": 100_000, "dm_tpm": 1000},
        [Acquire(-10, 10, 900), Acquire(-10, 10, 200, Refused(Limit.PRIVATE_TOKENS, 6.0)),
         Acquire(1, 10, 50_000), Settle(0, 300), Acquire(-10, 10, 700),
         Charge(-10, 100), Acquire(-10, 10, 1, Refused(Limit.PRIVATE_TOKENS, 6.1)),
         Acquire(-11, 11, 1000)],
    ),
    "DM limits off: only the user's own limit applies": (
        {"rpm": 1, "tpm": 1, "user_rpm": 3},
        [*[Acquire(-10, 10, 10**6)] * 3, Acquire(-10, 10, 1, Refused(Limit.USER_REQUESTS, 20.0))],
    ),
    "one user cannot drain the server": (
        {"rpm": 10, "tpm": 1000, "user_rpm": 2},
        [Acquire(1, 10, 1), Acquire(1, 10, 1), Acquire(1, 10, 1, Refused(Limit.USER_REQUESTS, 30.0)),
         Acquire(1, 11, 1)],
    ),
    "equal waits name the same limit in both limiters": (
        {"rpm": 2, "user_rpm": 2},
        [Acquire(1, 10, 1), Acquire(1, 10, 1), Acquire(1, 10, 1, Refused(Limit.USER_REQUESTS, 30.0))],
    ),
    "tokens charged up front and corrected with the usage": (
        {"tpm": 1000},
        [Acquire(1, 10, 900), Acquire(1, 10, 200, Refused(Limit.SERVER_TOKENS, 6.0)),
         Settle(0, 300),  # it really used 300: 600 come back
         Acquire(1, 10, 700), Acquire(1, 10, 100, Refused(Limit.SERVER_TOKENS))],
    ),
    "using more than charged puts the server into debt": (
        {"tpm": 1000},
        [Acquire(1, 10, 500), Settle(0, 1500), Acquire(1, 10, 1, Refused(Limit.SERVER_TOKENS, 30.1))],
    ),
    "a charge above the whole allowance takes a full bucket, then its debt is waited out": (
        {"tpm": 1000},
        [Acquire(1, 10, 5000), Acquire(1, 10, 5000, Refused(Limit.SERVER_TOKENS, 300.0)),
         Advance(299.9), Acquire(1, 10, 5000, Refused(Limit.SERVER_TOKENS)), Advance(0.2),
         Acquire(1, 10, 5000)],
    ),
    "zero disables every limit": (LIMITS_OFF, [Acquire(1, 10, 10**9)] * 300),
    "account headers slow everyone down until the reset": (
        {"rpm": 100, "tpm": 1000},
        [low("requests", "6m0s"), Acquire(2, 10, 1, Refused(Limit.ACCOUNT, 360.0)),
         low("tokens", "1s", remaining="9000"),  # plenty left: no change
         Advance(361), Acquire(2, 10, 1)],
    ),
    "the longer of two account holds wins, even with the limits off": (
        LIMITS_OFF,
        [low("requests", "10s"), low("tokens", "2s"), Acquire(1, 10, 1, Refused(Limit.ACCOUNT, 10.0)),
         low("tokens", "1s", remaining="150"), Advance(10), Acquire(1, 10, 1)],
    ),
    "summary tokens are charged to the server's budget only": (
        {"tpm": 1000},
        [Charge(1, 900), Acquire(1, 10, 200, Refused(Limit.SERVER_TOKENS, 6.0)), Acquire(2, 10, 200)],
    ),
}  # fmt: skip

MakeLimiter = Callable[..., Limiter]


@pytest.fixture(params=["local", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[tuple[MakeLimiter, Clock]]:
    """Limiters of one kind on one fake clock: ``make(rpm=.., tpm=.., user_rpm=.., dm_rpm=..,
    dm_tpm=..)``; a limit not given is off."""
    clock = Clock(500.0)
    if request.param == "local":

        def local(rpm=0, tpm=0, user_rpm=0, dm_rpm=0, dm_tpm=0) -> LocalLimiter:
            return LocalLimiter(rpm, tpm, user_rpm, dm_rpm, dm_tpm, clock=clock)

        yield local, clock
        return
    async with fresh_prefix(redis_url()) as space:
        made: list[RedisLimiter] = []

        def shared(rpm=0, tpm=0, user_rpm=0, dm_rpm=0, dm_tpm=0) -> RedisLimiter:
            made.append(space.limiter(guild_rpm=rpm, guild_tpm=tpm, user_rpm=user_rpm,
                                      dm_rpm=dm_rpm, dm_tpm=dm_tpm, clock=clock))  # fmt: skip
            return made[-1]

        yield shared, clock
        for limiter in made:
            await limiter.close()
        assert not any(limiter.failures for limiter in made), "Redis failed: decided locally"


@pytest.mark.parametrize(("limits", "steps"), SCENARIOS.values(), ids=SCENARIOS.keys())
async def test_scenario(make, limits: dict[str, int], steps: list[Step]):
    new, clock = make
    limiter: Limiter = new(**limits)
    tickets: list[Ticket] = []
    for number, step in enumerate(steps):
        match step:
            case Acquire(scope, user, tokens, expect):
                decision = await limiter.acquire(scope, user, tokens)
                if expect is GRANTED:
                    assert decision.ticket == Ticket(scope, tokens), f"step {number}: {decision}"
                    assert (decision.wait, decision.limit) == (0.0, None)
                    tickets.append(decision.ticket)
                else:
                    assert not decision.granted and decision.limit == expect.limit, f"step {number}"
                    assert decision.wait > 0
                    if expect.wait is not None:
                        assert decision.wait == pytest.approx(expect.wait), f"step {number}"
            case Advance(seconds):
                clock.now += seconds
            case Settle(nth, actual):
                await limiter.settle(tickets[nth], actual)
            case Charge(scope, tokens):
                await limiter.charge(scope, tokens)
            case Observe(headers):
                await limiter.observe(headers)


async def test_peek_says_what_acquire_would_and_charges_nothing(make):
    new, clock = make
    limiter: Limiter = new(rpm=5, tpm=1000, user_rpm=2)
    for _ in range(5):  # peeking a hundred times costs nothing
        assert await limiter.peek(1, 10) == Decision(wait=0.0)
    assert (await limiter.acquire(1, 10, 100)).granted
    assert (await limiter.acquire(1, 10, 100)).granted
    peeked = await limiter.peek(1, 10)
    refused = await limiter.acquire(1, 10, 0)
    assert (peeked.wait, peeked.limit, peeked.ticket) == (refused.wait, Limit.USER_REQUESTS, None)
    assert await limiter.peek(1, 11) == Decision(wait=0.0)  # someone else may still ask
    await limiter.charge(1, 2000)  # the server's tokens in debt: peek sees it
    assert (await limiter.peek(1, 11)).limit == Limit.SERVER_TOKENS
    clock.now += 120
    assert await limiter.peek(1, 10) == Decision(wait=0.0)


@pytest.mark.parametrize("limits", [LIMITS, PRIVATE_LIMITS], ids=["server", "private"])
def test_the_scripts_rank_limits_as_pythons_max_breaks_ties(limits):
    assert limits[0] is None and list(limits[1:]) == sorted(limits[1:])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1), ("6m0s", 360), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("", None)],
)
def test_parse_reset(text, seconds):
    assert parse_reset(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_bucket_goes_into_debt_and_recovers():
    bucket = TokenBucket.per_minute(60, 0.0)
    bucket.take(90, 0.0)
    assert bucket.wait(1, 0.0) == pytest.approx(31.0)


async def test_a_local_decision_is_cheap():
    lim = LocalLimiter(guild_rpm=10**9, guild_tpm=10**12, user_rpm=10**9)
    started = time.perf_counter()
    for i in range(20_000):
        await lim.acquire(i % 500, i % 5000, 1000)
    per_decision = (time.perf_counter() - started) / 20_000
    assert per_decision < 100e-6  # measured ~5 µs here; bench/ratelimit.py reports it


def test_equal_waits_name_the_same_limit_in_both_limiters():
    """LocalLimiter breaks a tie between equal waits with max() over (wait, Limit), the Redis
    scripts by rank (redis.LIMITS): both follow Limit's declared order, which its values sort in."""
    declared = list(Limit)
    for ranked in (LIMITS, PRIVATE_LIMITS):
        named = list(ranked[1:])
        assert named == sorted(named) == sorted(named, key=declared.index)
