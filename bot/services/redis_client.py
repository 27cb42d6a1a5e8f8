"""The process's one Redis client, shared by everything that uses Redis (the limiter and the
spending budgets, the REST budget, the IDENTIFY gate): one connection pool, one close.

Each user caps its own wait (the limiter's decisions at 0.1 s, a REST slot at 0.2 s) and falls
back to this process alone when Redis is slow or gone; the socket timeouts here are the outer
bound for all of them."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

SOCKET_TIMEOUT = 0.2  # seconds: the longest any user of the client waits on one reply


def redis_client(url: str, timeout: float = SOCKET_TIMEOUT) -> Redis:
    """A client for ``url``; nothing connects until the first command."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),  # one immediate retry: a stale pooled connection
    )
