"""Benchmark: the cost of one limiter decision (target ≤ 20 µs).

python bench/ratelimit.py
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.ratelimit import LocalLimiter

N = 200_000


def run(label: str, limiter: LocalLimiter, guilds: int, users: int) -> None:
    rng = random.Random(1)
    keys = [
        (rng.randrange(guilds), rng.randrange(users), rng.randrange(100, 5000)) for _ in range(N)
    ]
    granted = 0
    started = time.perf_counter()
    for guild, user, tokens in keys:
        decision = limiter.decide(guild, user, tokens)
        if decision.ticket is not None:
            granted += 1
            limiter.give_back(decision.ticket, tokens // 2)
    elapsed = time.perf_counter() - started
    print(
        f"{label:<38} {elapsed / N * 1e6:6.2f} µs per acquire+settle  ({granted:,} of {N:,} granted)"
    )


if __name__ == "__main__":
    run("1 server, 50 users, limits hit often", LocalLimiter(30, 60_000, 8), 1, 50)
    run("5,000 servers, 50,000 users", LocalLimiter(30, 60_000, 8), 5_000, 50_000)
    run("limits off", LocalLimiter(0, 0, 0), 5_000, 50_000)
