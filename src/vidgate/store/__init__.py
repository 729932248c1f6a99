"""Durable state behind one interface: SQL (SQLite or PostgreSQL) or in memory."""

from typing import TYPE_CHECKING

from vidgate.store.base import (
    QuotaShort,
    Store,
    StoreFull,
    StoreUnavailable,
    SubmitRateLimited,
)
from vidgate.store.sql import SqlStore

if TYPE_CHECKING:
    from vidgate.store.memory import MemoryStore

__all__ = [
    "MemoryStore",
    "QuotaShort",
    "SqlStore",
    "Store",
    "StoreFull",
    "StoreUnavailable",
    "SubmitRateLimited",
    "open_store",
]

MEMORY_URL = "memory://"


def open_store(url: str) -> Store:
    """The store for a database URL: ``memory://`` keeps everything in this process."""
    if url == MEMORY_URL or url.startswith(MEMORY_URL):
        from vidgate.store.memory import MemoryStore

        return MemoryStore()
    return SqlStore(url)


def __getattr__(name: str) -> object:
    if name == "MemoryStore":  # imported on first use: a SQL process never needs it
        from vidgate.store.memory import MemoryStore

        return MemoryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
