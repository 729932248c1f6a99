"""Connections to SQLite or PostgreSQL, and every difference between the two, in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, text

from vidgate.clock import utcnow
from vidgate.records import Event
from vidgate.store.base import Listener, StoreFull, StoreUnavailable
from vidgate.store.sql.inline import InlineConnection, InlineEngine
from vidgate.store.sql.migrate import upgrade
from vidgate.store.sql.notify import CHANNEL, NoticeListener, notice_payload

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["Connectionlike", "Database", "store_error", "store_errors"]

# SQLAlchemy's asyncio extension (and the ORM it imports) loads only for PostgreSQL.
Connectionlike: TypeAlias = "AsyncConnection | InlineConnection"

# PostgreSQL advisory lock keys (64-bit, chosen once): migrating, events, claiming tasks.
MIGRATION_LOCK = 0x76696467_6D696772  # "vidgmigr"
EVENT_LOCK = 0x76696467_6576656E  # "vidgeven"
CLAIM_LOCK = 0x76696467_636C6169  # "vidgclai"
_WRITTEN = "vidgate_events"
_EVENT_LOCKED = "vidgate_event_lock"
NOTIFY_EVENTS = text(
    "SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload"
)
_NOT_FOR_ASYNCPG = (
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)


# SQLSTATE classes of a lost or refused connection: connection exception, insufficient
# resources (too many connections), operator intervention (terminated, shutting down).
_UNAVAILABLE_STATES = ("08", "53", "57")
_SQLITE_BUSY = ("database is locked", "database is busy", "unable to open database")


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [getattr(item, "orig", None), item.__cause__, item.__context__]
    return seen


def store_error(exc: BaseException) -> Exception | None:
    """The vidgate error a driver's exception stands for: StoreFull for a full disk,
    StoreUnavailable for a lost or refused connection, None for anything else."""
    for cause in _causes(exc):
        text = str(cause).lower()
        if "database or disk is full" in text:
            return StoreFull("The database's disk is full.")
    for cause in _causes(exc):
        text = str(cause).lower()
        state = str(getattr(cause, "sqlstate", "") or "")
        if (
            (isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated)
            or isinstance(cause, sa_exc.DisconnectionError | sa_exc.TimeoutError | OSError)
            or state.startswith(_UNAVAILABLE_STATES)
            or "not currently accepting connections" in text
            or "connection is closed" in text
            or "connection was closed" in text
            or any(busy in text for busy in _SQLITE_BUSY)
            or (
                type(cause).__name__
                in ("ConnectionDoesNotExistError", "InterfaceError", "InternalClientError")
                and type(cause).__module__.startswith("asyncpg")
            )
        ):
            return StoreUnavailable(f"The database is unavailable: {type(cause).__name__}.")
    return None


@contextmanager
def store_errors() -> Iterator[None]:
    """Raise a driver's exception as the store's error it stands for (`store_error`)."""
    try:
        yield
    except Exception as exc:
        translated = store_error(exc)
        if translated is None:
            raise
        raise translated from exc


class Database:
    """A write engine and a read engine over one database URL.

    SQLite runs inline on the event loop: its writer takes the write lock up front (BEGIN
    IMMEDIATE) and its readers run in autocommit, which in WAL mode never waits for a writer.
    PostgreSQL shares one asyncpg pool for both, orders event ids with an advisory lock, and
    announces each event with NOTIFY in the transaction that writes it.
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
            from sqlalchemy.ext.asyncio import create_async_engine

            # Pre-ping: a pooled connection the server dropped (a restart, a failover) is
            # replaced on checkout instead of failing the next query.
            self._write = create_async_engine(
                url, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
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
        """A write transaction. Listeners hear of the events it wrote once it has committed.

        A lost connection or a full disk comes out as StoreUnavailable or StoreFull."""
        written: list[Event] = []
        with store_errors():
            async with self._write.begin() as conn:
                # Hold the dict itself: a write cancelled mid-statement invalidates the
                # connection, and reading `conn.info` then would raise over the CancelledError.
                info = conn.info
                info[_WRITTEN] = written
                try:
                    yield conn
                    await self._notify(conn, written)
                finally:
                    info.pop(_WRITTEN, None)
                    info.pop(_EVENT_LOCKED, None)
        for event in written:
            for listener in self.listeners:
                listener(event)

    async def _notify(self, conn: Connectionlike, written: list[Event]) -> None:
        """NOTIFY every node of the events a transaction wrote, in one statement before its
        commit: PostgreSQL delivers them once it commits, in commit order, and never if it
        rolls back. SQLite has no NOTIFY; other processes on its file tail the table."""
        if self._sqlite or not written:
            return
        payloads = [notice_payload(event) for event in written]
        await conn.execute(NOTIFY_EVENTS, {"channel": CHANNEL, "payloads": payloads})

    def listen(self) -> NoticeListener | None:
        """A LISTEN connection of its own for every node's events; None on SQLite."""
        if self._sqlite:
            return None
        return NoticeListener(self.asyncpg_args())

    @property
    def sqlite(self) -> bool:
        return self._sqlite

    def asyncpg_args(self) -> dict[str, Any]:
        """What `asyncpg.connect` takes to reach this PostgreSQL database."""
        from sqlalchemy.ext.asyncio import AsyncEngine

        engine = self._write
        assert isinstance(engine, AsyncEngine)
        _, params = engine.dialect.create_connect_args(engine.url)
        return {k: v for k, v in params.items() if k not in _NOT_FOR_ASYNCPG}

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Connectionlike]:
        with store_errors():
            async with self._read.connect() as conn:
                yield conn

    def greater(self, left: Any, right: Any) -> Any:
        """The larger of two SQL values: SQLite spells it max(), PostgreSQL greatest()."""
        return func.max(left, right) if self._sqlite else func.greatest(left, right)

    async def now(self, conn: Connectionlike) -> datetime:
        """The time leases are measured by: the database's clock on PostgreSQL (naive UTC, the
        transaction's start), so every node agrees; this machine's clock on SQLite."""
        if self._sqlite:
            return utcnow()
        result = await conn.exec_driver_sql("SELECT now() AT TIME ZONE 'utc'")
        moment: datetime = result.scalar_one()
        return moment

    async def ping(self) -> None:
        async with self.reading() as conn:
            await conn.exec_driver_sql("SELECT 1")

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

    async def before_claim(self, conn: Connectionlike) -> None:
        """Let one transaction at a time choose tasks to claim, so each sees what the others
        claimed (keys' tasks in flight) when it chooses. SQLite has one writer at a time; on
        PostgreSQL an advisory lock, taken before any row lock."""
        if not self._sqlite:
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CLAIM_LOCK})")

    @staticmethod
    def announce(conn: Connectionlike, event: Event) -> None:
        """Queue ``event`` for the listeners, to be told once the transaction commits."""
        written: list[Event] = conn.info.setdefault(_WRITTEN, [])
        written.append(event)
