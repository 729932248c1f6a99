"""Hot single-row reads outside SQLAlchemy, on connections kept for them.

Pollers and every authenticated request read one small row over and over. On SQLite these
run on a connection of their own in autocommit (in WAL mode that sees every committed write,
of this process or another, and never waits for a writer); on PostgreSQL on a small asyncpg
pool of its own, by statements asyncpg prepares once per connection. Driver errors come out
as the store's StoreUnavailable or StoreFull, as they do from the rest of the store.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from vidgate.store.sql.database import Database, store_errors

if TYPE_CHECKING:
    import asyncpg

__all__ = ["RawReads"]

POOL_SIZE = 4
BUSY_TIMEOUT_MS = 10000


def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL; None for an in-memory database or URI options."""
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or parsed.query:
        return None
    return database


async def _as_it_is(_conn: asyncpg.Connection) -> None:
    """A released read connection is kept as it is: it only ever runs single statements in
    autocommit, which leave no session state to reset (asyncpg would send a query to)."""


class RawReads:
    """One row by a plain SQL statement, written once per backend (`?` and `$1` params)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sqlite: sqlite3.Connection | None = None
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    @cached_property
    def available(self) -> bool:
        """False for a SQLite database other connections cannot open (in memory)."""
        return not self.db.sqlite or _sqlite_file(self.db.url) is not None

    async def row(self, sqlite_sql: str, postgres_sql: str, *params: Any) -> tuple[Any, ...] | None:
        """The first row the statement answers, as a tuple; None for none."""
        with store_errors():
            if self.db.sqlite:
                conn = self._sqlite or self._open_sqlite()
                found: tuple[Any, ...] | None = conn.execute(sqlite_sql, params).fetchone()
                return found
            async with self._postgres() as conn:
                record = await conn.fetchrow(postgres_sql, *params)
            return None if record is None else tuple(record)

    async def postgres_rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Every row a PostgreSQL statement answers, as tuples."""
        with store_errors():
            async with self._postgres() as conn:
                records = await conn.fetch(sql, *params)
            return [tuple(record) for record in records]

    @asynccontextmanager
    async def _postgres(self) -> AsyncIterator[Any]:
        """A pooled read connection, closed if its statement fails so the pool opens a fresh
        one: a connection that lost its server mid-statement can be left in a state no later
        statement gets past, and a released read connection is not reset (`_as_it_is`)."""
        pool = self._pool or await self._open_pool()
        async with pool.acquire() as conn:
            try:
                yield conn
            except BaseException:
                conn.terminate()
                raise

    def data_version(self) -> int | None:
        """SQLite's `PRAGMA data_version` on the read connection: it changes whenever any
        other connection, of this process or another, commits a write. None on PostgreSQL,
        or for a database other connections cannot open."""
        if not self.db.sqlite or not self.available:
            return None
        with store_errors():
            conn = self._sqlite or self._open_sqlite()
            found: tuple[int] = conn.execute("PRAGMA data_version").fetchone()
            return found[0]

    def _open_sqlite(self) -> sqlite3.Connection:
        path = _sqlite_file(self.db.url)
        assert path is not None, "check `available` first"
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only=ON")
        self._sqlite = conn
        return conn

    async def _open_pool(self) -> asyncpg.Pool:
        import asyncpg  # only PostgreSQL needs it

        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    **self.db.asyncpg_args(), min_size=1, max_size=POOL_SIZE, reset=_as_it_is
                )
            return self._pool

    async def close(self) -> None:
        conn, self._sqlite = self._sqlite, None
        if conn is not None:
            conn.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
