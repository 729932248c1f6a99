"""SQLite connections used inline on the event loop, behind the async connection's face.

SQLite answers a primary-key read in microseconds and every vidgate transaction is a handful
of statements with no waiting inside, so running them straight on the loop costs less than
handing each statement to a thread (as aiosqlite does) and back. The store's code is the same
for both backends: it awaits `execute` here as it does on an `AsyncConnection`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.sql import Executable

__all__ = ["InlineConnection", "InlineEngine"]

T = TypeVar("T")


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class InlineConnection:
    """The subset of `AsyncConnection` the store uses, over a synchronous connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def info(self) -> dict[Any, Any]:
        return self._connection.info

    async def execute(self, statement: Executable, parameters: Any = None) -> Any:
        """Run a statement; typed loosely, as rows differ per statement."""
        return self._connection.execute(statement, parameters)

    async def exec_driver_sql(self, sql: str) -> CursorResult[Any]:
        return self._connection.exec_driver_sql(sql)

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self._connection, *args)


class InlineEngine:
    """A synchronous SQLite engine whose transactions run on the caller's thread."""

    def __init__(self, url: str, *, immediate: bool) -> None:
        """`immediate`: a writer, whose transactions take SQLite's write lock up front.

        Readers run each statement in autocommit, which in WAL mode never waits for a writer.
        """
        sync_url = url.replace("sqlite+aiosqlite:", "sqlite:", 1).replace(
            "sqlite+pysqlite:", "sqlite:", 1
        )
        self.engine: Engine = create_engine(
            sync_url,
            pool_size=4,
            max_overflow=4,
            pool_reset_on_return="rollback" if immediate else None,
            connect_args={"check_same_thread": False},
        )
        event.listen(self.engine, "connect", _pragmas)
        if immediate:
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        self._writer = asyncio.Lock()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[InlineConnection]:
        """A transaction; writers of this process queue here, never on SQLite's lock."""
        async with self._writer:
            with self.engine.begin() as connection:
                yield InlineConnection(connection)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[InlineConnection]:
        with self.engine.connect() as connection:
            yield InlineConnection(connection)

    async def dispose(self) -> None:
        self.engine.dispose()
