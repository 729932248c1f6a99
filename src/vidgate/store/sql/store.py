"""The SQL store: SQLite in the data dir, or PostgreSQL shared by many processes."""

from __future__ import annotations

from vidgate.store.base import Listener
from vidgate.store.sql.admin import SqlAdmin
from vidgate.store.sql.cluster import SqlCluster
from vidgate.store.sql.database import Database
from vidgate.store.sql.files import SqlFiles
from vidgate.store.sql.keys import SqlKeys
from vidgate.store.sql.leasing import SqlLeases
from vidgate.store.sql.outbox import SqlOutbox
from vidgate.store.sql.rawread import RawReads
from vidgate.store.sql.submits import SubmitGroups
from vidgate.store.sql.tasks import SqlTasks
from vidgate.store.sql.versions import SqlTaskVersions

__all__ = ["SqlStore"]


class SqlStore(
    SqlKeys, SqlTasks, SqlTaskVersions, SqlLeases, SqlOutbox, SqlFiles, SqlCluster, SqlAdmin
):
    """The store over a SQLAlchemy URL (``sqlite:///…`` or ``postgresql+asyncpg://…``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(url)
        self.raw = RawReads(self.db)
        self.submits = SubmitGroups(self.db, self.insert_alone, at_once=1 if self.db.sqlite else 2)
        self.listeners: list[Listener] = self.db.listeners

    async def open(self) -> None:
        await self.db.migrate()

    async def ping(self) -> None:
        await self.db.ping()

    async def close(self) -> None:
        await self.raw.close()
        await self.db.dispose()
