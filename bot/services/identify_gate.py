"""IDENTIFY spaced across processes through Redis.

Discord lets a bot IDENTIFY ``max_concurrency`` shards per 5 seconds, in buckets by
``shard_id % max_concurrency``. In one process discord.py spaces them itself; processes that
start together must agree, so each IDENTIFY first takes a short Redis lock for its bucket, held
for the spacing. Without Redis, this process's own spacing is all there is; so too while Redis
fails (one warning), as the limiter falls back: a re-IDENTIFY never ends the process.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

SPACING = 5.0  # seconds between IDENTIFYs in one bucket (Discord's rule)


class IdentifyGate:
    """Takes the Redis lock of a shard's IDENTIFY bucket, for ``spacing`` seconds."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str,
        concurrency: int = 1,
        spacing: float = SPACING,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.concurrency = max(1, concurrency)
        self.spacing = spacing
        self.token = uuid.uuid4().hex
        self.clock, self.sleep = clock, sleep
        self.failing = False  # Redis failed: spaced locally, warned once
        self._last: dict[int, float] = {}  # bucket → when this process last identified in it

    async def wait(self, shard_id: int) -> None:
        bucket = shard_id % self.concurrency
        try:
            await self._take(bucket)
            if self.failing:
                log.info("Redis is back: IDENTIFYs are spaced across processes again")
            self.failing = False
        except Exception as exc:  # redis errors, OSError: this process's own spacing instead
            if not self.failing:
                log.warning("Redis failed (%s): spacing IDENTIFYs in this process only", exc)
            self.failing = True
            await self._space_locally(bucket)
        self._last[bucket] = self.clock()
        log.info("Identifying shard %d", shard_id)

    async def _take(self, bucket: int) -> None:
        key = f"{self.prefix}identify:{bucket}"
        milliseconds = int(self.spacing * 1000)
        while not await self.client.set(key, self.token, nx=True, px=milliseconds):
            left = await self.client.pttl(key)
            await self.sleep(max(left, 50) / 1000)

    async def _space_locally(self, bucket: int) -> None:
        last = self._last.get(bucket)
        if last is not None and (left := last + self.spacing - self.clock()) > 0:
            await self.sleep(left)

    async def close(self) -> None:
        await self.client.aclose()
