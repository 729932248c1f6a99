"""What every part of the SQL store shares: the database, and reading a task by id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, select, update

from vidgate.records import TaskRecord
from vidgate.store.sql.database import Connectionlike, Database
from vidgate.store.sql.rawread import RawReads
from vidgate.store.sql.rows import task_from
from vidgate.store.sql.tables import tasks

__all__ = ["SqlConcern", "lease_due"]

TASK_BY_ID = select(tasks).where(tasks.c.id == bindparam("task_id"))


async def lease_due(
    conn: Connectionlike,
    table: Table,
    due: ColumnElement[bool],
    order: ColumnElement[Any],
    limit: int,
    worker: str,
    expires: datetime,
) -> bool:
    """Lease up to ``limit`` due rows of ``table`` to ``worker``; False when none were due."""
    result = await conn.execute(
        select(table.c.id).where(due).order_by(order).limit(limit).with_for_update(skip_locked=True)
    )
    ids = [row[0] for row in result.all()]
    if not ids:
        return False
    await conn.execute(
        update(table)
        .where(table.c.id.in_(ids), due)
        .values(lease_owner=worker, lease_expires_at=expires)
    )
    return True


class SqlConcern:
    """A base for the store's parts; each part holds the queries of one concern."""

    db: Database
    raw: RawReads

    @staticmethod
    async def _task(conn: Connectionlike, task_id: str) -> TaskRecord | None:
        row = (await conn.execute(TASK_BY_ID, {"task_id": task_id})).mappings().first()
        return None if row is None else task_from(row)
