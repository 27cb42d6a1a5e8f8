"""PostgreSQL implementation of :class:`~bot.core.store.Store` on an asyncpg pool: the pool's
life and the migrations (:mod:`bot.services.store.postgres.schema`).

The queries are in one module per concern, the same modules as the SQLite store's, so a change
to one is easy to carry to the other: ``conversations``, ``turns``, ``choices``, ``privacy``,
``usage`` and ``meta``. The rows they read become values in :mod:`bot.services.store.rows`,
shared by both. Dropped connections are handled in :mod:`bot.services.store.postgres.pool`: each
query says whether running it twice is harmless (``retry``, on by default), so it may be retried
once.
"""

from __future__ import annotations

import asyncpg

from bot.core.settings import DEFAULT_POOL_SIZE, postgres_dsn, redacted_url
from bot.services.store.postgres.choices import PostgresChoices
from bot.services.store.postgres.conversations import PostgresConversations
from bot.services.store.postgres.meta import PostgresMeta
from bot.services.store.postgres.pool import Connections
from bot.services.store.postgres.privacy import PostgresPrivacy
from bot.services.store.postgres.schema import migrate, quote_identifier
from bot.services.store.postgres.turns import PostgresTurns
from bot.services.store.postgres.usage import PostgresUsage


class PostgresStore(
    PostgresConversations,
    PostgresTurns,
    PostgresChoices,
    PostgresPrivacy,
    PostgresUsage,
    PostgresMeta,
):
    """A pool of ``pool_size`` connections. ``schema`` (created if missing) holds the tables;
    ``application_name`` names the connections in ``pg_stat_activity``."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        schema: str | None = None,
        application_name: str = "threadbot",
    ) -> None:
        dsn, url_schema = postgres_dsn(url)
        self.schema = schema or url_schema
        settings = {"application_name": application_name}
        if self.schema is not None:
            settings["search_path"] = quote_identifier(self.schema)
        describe = redacted_url(dsn) + (f" (schema {self.schema})" if self.schema else "")
        self.db = Connections(dsn, size=pool_size, describe=describe, server_settings=settings)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.db.pool

    async def open(self) -> None:
        await self.db.open(
            lambda conn: migrate(conn, schema=self.schema, describe=self.db.describe)
        )

    async def close(self) -> None:
        await self.db.close()
