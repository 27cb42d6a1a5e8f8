"""Storage: one interface (:class:`Store`), chosen by ``DATABASE_URL``."""

from __future__ import annotations

from ..settings import DEFAULT_POOL_SIZE, POSTGRES_SCHEMES, sqlite_path
from .base import (
    Conversation,
    Image,
    ModelScope,
    PersonaScope,
    Role,
    ScopedChoices,
    Store,
    StoreError,
    Turn,
    TurnStatus,
    UsageTotals,
)
from .postgres import PostgresStore
from .sqlite import SQLiteStore

__all__ = [
    "Conversation",
    "Image",
    "ModelScope",
    "PersonaScope",
    "PostgresStore",
    "Role",
    "SQLiteStore",
    "ScopedChoices",
    "Store",
    "StoreError",
    "Turn",
    "TurnStatus",
    "UsageTotals",
    "store_from_url",
]


def store_from_url(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Store:
    """The store for a URL; settings validation has already rejected unsupported schemes.
    ``pool_size`` is PostgreSQL's number of connections (SQLite has one)."""
    if database_url.startswith(POSTGRES_SCHEMES):
        return PostgresStore(database_url, pool_size=pool_size)
    return SQLiteStore(sqlite_path(database_url))
