"""An asyncpg pool that survives dropped connections, for
:class:`~bot.services.store.postgres.store.PostgresStore` and each of its parts.

The pool replaces connections that die (a server restart, a failover). An operation whose
connection died under it is retried once on a fresh connection when running it twice is harmless
(a read, an idempotent write); otherwise, or if the retry fails too, it raises :class:`StoreError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from bot.core.store import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")

# A connection that died under an operation: the server closed it (restart, failover,
# pg_terminate_backend) or the network dropped it. Other errors are the query's own.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and "connection was closed"
    asyncpg.AdminShutdownError,  # 57P01: terminated by an administrator or a shutdown
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.CannotConnectNowError,  # 57P03: the server is starting up
    OSError,  # ConnectionResetError, ConnectionRefusedError, ... (TimeoutError is caught first)
)

# Seconds to wait for a free connection: every connection busy (a slow query, a stuck
# transaction) must not make a message wait forever. The caller retries a StoreError.
ACQUIRE_TIMEOUT = 10.0


class Connections:
    """Up to ``size`` connections to ``dsn``; ``describe`` names the database in messages
    (never with its password)."""

    def __init__(
        self, dsn: str, *, size: int, describe: str, server_settings: dict[str, str]
    ) -> None:
        self.dsn = dsn
        self.size = size
        self.describe = describe
        self.server_settings = server_settings
        self.acquire_timeout = ACQUIRE_TIMEOUT
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    async def open(self, setup: Callable[[asyncpg.Connection], Awaitable[object]]) -> None:
        """Connect, then run ``setup`` (the migrations) on one connection."""
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.size,
                timeout=10,  # to connect
                command_timeout=60,
                server_settings=self.server_settings,
            )
            async with self._pool.acquire() as conn:
                await setup(conn)
        except StoreError:
            await self.close()
            raise
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            await self.close()
            raise StoreError(f"cannot open database {self.describe}: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def run(self, work: Callable[[Any], Awaitable[T]], *, retry: bool) -> T:
        """``work(connection)``; retried once on a fresh connection if its connection died and
        ``retry`` says running it twice is harmless."""
        for attempt in (1, 2):
            closed = acquired = False
            try:
                async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
                    acquired = True
                    try:
                        return await work(conn)
                    except asyncpg.InterfaceError:  # e.g. "connection is closed"
                        closed = conn.is_closed()
                        raise
            except TimeoutError as exc:
                if not acquired:
                    raise StoreError(
                        f"no connection to database {self.describe} within "
                        f"{self.acquire_timeout:g} s (all {self.size} busy, or it does not answer)"
                    ) from exc
                raise StoreError(f"database {self.describe} did not answer in time") from exc
            except (*CONNECTION_ERRORS, asyncpg.InterfaceError) as exc:
                if isinstance(exc, asyncpg.InterfaceError) and not closed:
                    raise  # a misuse, not a lost connection
                # After a restart every pooled connection is dead: replace them all.
                await self.pool.expire_connections()
                if retry and attempt == 1:
                    log.warning("Lost the connection to %s (%s); retrying", self.describe, exc)
                    continue
                outcome = "gave up after one retry" if retry else "the change may be lost"
                raise StoreError(
                    f"lost the connection to database {self.describe} ({outcome}): {exc}"
                ) from exc
        raise AssertionError("unreachable")

    async def fetch(self, query: str, *args: object, retry: bool = True) -> list[asyncpg.Record]:
        return await self.run(lambda conn: conn.fetch(query, *args), retry=retry)

    async def fetchrow(self, query: str, *args: object, retry: bool = True) -> Any:
        return await self.run(lambda conn: conn.fetchrow(query, *args), retry=retry)

    async def execute(self, query: str, *args: object, retry: bool = True) -> int:
        """Rows affected (from the command tag, e.g. ``UPDATE 1``)."""
        status = await self.run(lambda conn: conn.execute(query, *args), retry=retry)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0


class PostgresConnection:
    """The base of each part of :class:`~bot.services.store.postgres.store.PostgresStore`
    (``conversations``, ``turns``, ...): ``db``, the pool, which the store makes and opens."""

    db: Connections
