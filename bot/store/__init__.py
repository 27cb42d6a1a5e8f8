"""Storage: one interface (:class:`Store`), chosen by ``DATABASE_URL``."""

from __future__ import annotations

from ..settings import sqlite_path
from .base import (
    Conversation,
    PersonaScope,
    Role,
    Store,
    StoreError,
    Turn,
    TurnStatus,
    UsageTotals,
)
from .sqlite import SQLiteStore

__all__ = [
    "Conversation",
    "PersonaScope",
    "Role",
    "SQLiteStore",
    "Store",
    "StoreError",
    "Turn",
    "TurnStatus",
    "UsageTotals",
    "store_from_url",
]


def store_from_url(database_url: str) -> Store:
    """The store for a URL; settings validation has already rejected unsupported schemes."""
    return SQLiteStore(sqlite_path(database_url))
