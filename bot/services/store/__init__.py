"""Storage backends of :class:`~bot.core.store.Store`, chosen by ``DATABASE_URL``.

One folder a backend, ``sqlite/`` and ``postgres/``, with the same modules, so a change to one
is easy to carry to the other: ``store`` (the class, opening and closing), ``schema`` (the
migrations), and the queries by concern: ``conversations``, ``turns`` (with reasoning and
images), ``choices`` (personas and models), ``privacy`` (forgetting, deleting, retention),
``usage`` (tokens and spending) and ``meta`` (deployment facts, process heartbeats).
:mod:`bot.services.store.rows` maps the rows both read to the core's values.
"""

from __future__ import annotations

from bot.core.settings import DEFAULT_POOL_SIZE, POSTGRES_SCHEMES, sqlite_path
from bot.core.store import Store
from bot.services.store.postgres.store import PostgresStore
from bot.services.store.sqlite.store import SQLiteStore

__all__ = ["PostgresStore", "SQLiteStore", "store_from_url"]


def store_from_url(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Store:
    """The store for a URL; settings validation has already rejected unsupported schemes.
    ``pool_size`` is PostgreSQL's number of connections (SQLite has one)."""
    if database_url.startswith(POSTGRES_SCHEMES):
        return PostgresStore(database_url, pool_size=pool_size)
    return SQLiteStore(sqlite_path(database_url))
