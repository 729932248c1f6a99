"""Durable state behind one interface: SQL (SQLite or PostgreSQL) or in memory."""

from vidgate.store.base import (
    QuotaShort,
    Store,
    StoreFull,
    StoreUnavailable,
    SubmitRateLimited,
)
from vidgate.store.memory import MemoryStore
from vidgate.store.sql import SqlStore

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
        return MemoryStore()
    return SqlStore(url)
