"""Connections to SQLite or PostgreSQL, and every difference between the two, in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from vidgate.records import Event
from vidgate.store.base import Listener
from vidgate.store.sql.inline import InlineConnection, InlineEngine
from vidgate.store.sql.migrate import upgrade

__all__ = ["Connectionlike", "Database"]

Connectionlike = AsyncConnection | InlineConnection

# PostgreSQL advisory lock keys (64-bit, chosen once): one for migrating, one for events.
MIGRATION_LOCK = 0x76696467_6D696772  # "vidgmigr"
EVENT_LOCK = 0x76696467_6576656E  # "vidgeven"
_WRITTEN = "vidgate_events"
_EVENT_LOCKED = "vidgate_event_lock"


class Database:
    """A write engine and a read engine over one database URL.

    SQLite runs inline on the event loop: its writer takes the write lock up front (BEGIN
    IMMEDIATE) and its readers run in autocommit, which in WAL mode never waits for a writer.
    PostgreSQL shares one asyncpg pool for both, and orders event ids with an advisory lock.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._sqlite = url.startswith("sqlite")
        self._write: AsyncEngine | InlineEngine
        self._read: AsyncEngine | InlineEngine
        if self._sqlite:
            self._write = InlineEngine(url, immediate=True)
            self._read = InlineEngine(url, immediate=False)
        else:
            self._write = create_async_engine(url, pool_size=10, max_overflow=20)
            self._read = self._write
        self.listeners: list[Listener] = []

    async def migrate(self) -> None:
        """Bring the schema up to date; safe to run from several processes at once.

        SQLite's write lock serializes the migrations; PostgreSQL runs them under a
        transaction-level advisory lock, so a second opener waits, then finds them done.
        """
        async with self._write.begin() as conn:
            if not self._sqlite:
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            await conn.run_sync(upgrade)

    async def dispose(self) -> None:
        await self._write.dispose()
        if self._read is not self._write:
            await self._read.dispose()

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[Connectionlike]:
        """A write transaction. Listeners hear of the events it wrote once it has committed."""
        written: list[Event] = []
        async with self._write.begin() as conn:
            # Hold the dict itself: a write cancelled mid-statement invalidates the connection,
            # and reading `conn.info` then would raise over the CancelledError.
            info = conn.info
            info[_WRITTEN] = written
            try:
                yield conn
            finally:
                info.pop(_WRITTEN, None)
                info.pop(_EVENT_LOCKED, None)
        for event in written:
            for listener in self.listeners:
                listener(event)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Connectionlike]:
        async with self._read.connect() as conn:
            yield conn

    async def before_event(self, conn: Connectionlike) -> None:
        """Make event ids of concurrent transactions become visible in id order.

        SQLite has one writer at a time. On PostgreSQL concurrent transactions could commit
        ids out of order, so each takes an advisory lock before its first event and holds it
        to commit. Callers already hold their row locks by then, so there is no deadlock.
        """
        if self._sqlite or conn.info.get(_EVENT_LOCKED):
            return
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({EVENT_LOCK})")
        conn.info[_EVENT_LOCKED] = True

    @staticmethod
    def announce(conn: Connectionlike, event: Event) -> None:
        """Queue ``event`` for the listeners, to be told once the transaction commits."""
        written: list[Event] = conn.info.setdefault(_WRITTEN, [])
        written.append(event)
