"""Task versions: a task's stored row, read outside SQLAlchemy, for telling whether it changed.

Pollers read one task over and over while it stays the same. The row itself, as the driver
returns it, is the cheapest token of that: equal rows render equally. It is read by
`RawReads`, on a connection kept for such reads.
"""

from __future__ import annotations

from sqlalchemy import func, select

from vidgate.records import TaskRecord
from vidgate.store.sql.concern import SqlConcern
from vidgate.store.sql.rows import task_from
from vidgate.store.sql.tables import audit_log
from vidgate.store.sql.tasks import TASK_OF_OWNER

__all__ = ["SqlTaskVersions"]

SQLITE_ROW = "SELECT * FROM tasks WHERE id = ? AND owner_id = ?"
POSTGRES_ROW = "SELECT * FROM tasks WHERE id = $1 AND owner_id = $2"
AUDITED = "SELECT (SELECT coalesce(max(id), 0) FROM audit_log), tasks.* FROM tasks"
SQLITE_AUDITED_ROW = f"{AUDITED} WHERE id = ? AND owner_id = ?"
POSTGRES_AUDITED_ROW = f"{AUDITED} WHERE id = $1 AND owner_id = $2"


class SqlTaskVersions(SqlConcern):
    """`task_version`: the task's row as a tuple; with the last audit id in the same read;
    `change_stamp`: SQLite's data version, read on the same connection."""

    def change_stamp(self) -> int | None:
        return self.raw.data_version()

    async def task_version(self, task_id: str, owner_id: str) -> object | None:
        if not self.raw.available:
            return await self._version_by_record(task_id, owner_id)
        return await self.raw.row(SQLITE_ROW, POSTGRES_ROW, task_id, owner_id)

    async def audited_task_version(self, task_id: str, owner_id: str) -> tuple[int, object] | None:
        if not self.raw.available:
            version = await self._version_by_record(task_id, owner_id)
            if version is None:
                return None
            async with self.db.reading() as conn:
                last = (await conn.execute(select(func.max(audit_log.c.id)))).scalar_one()
            return int(last or 0), version
        row = await self.raw.row(SQLITE_AUDITED_ROW, POSTGRES_AUDITED_ROW, task_id, owner_id)
        return None if row is None else (int(row[0]), row[1:])

    async def _version_by_record(self, task_id: str, owner_id: str) -> TaskRecord | None:
        async with self.db.reading() as conn:
            result = await conn.execute(TASK_OF_OWNER, {"task_id": task_id, "owner_id": owner_id})
            row = result.mappings().first()
        return None if row is None else task_from(row)
