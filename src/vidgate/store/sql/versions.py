"""Task versions: a task's stored row, read outside SQLAlchemy, for telling whether it changed.

Pollers read one task over and over while it stays the same. The row itself, as the driver
returns it, is the cheapest token of that: equal rows render equally. It is read by
`RawReads`, on a connection kept for such reads. On PostgreSQL, where each read is a round
trip, the reads asked for in one turn of the event loop go as one statement.
"""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import Any

from sqlalchemy import func, select

from vidgate.records import TaskRecord
from vidgate.store.base import StoreUnavailable
from vidgate.store.sql.concern import SqlConcern
from vidgate.store.sql.rawread import RawReads
from vidgate.store.sql.rows import task_from
from vidgate.store.sql.tables import audit_log
from vidgate.store.sql.tasks import TASK_OF_OWNER

__all__ = ["SqlTaskVersions"]

SQLITE_ROW = "SELECT * FROM tasks WHERE id = ? AND owner_id = ?"
POSTGRES_ROW = "SELECT * FROM tasks WHERE id = $1 AND owner_id = $2"
AUDITED = "SELECT (SELECT coalesce(max(id), 0) FROM audit_log), tasks.* FROM tasks"
SQLITE_AUDITED_ROW = f"{AUDITED} WHERE id = ? AND owner_id = ?"
POSTGRES_AUDITED_ROW = f"{AUDITED} WHERE id = $1 AND owner_id = $2"
POSTGRES_AUDITED_ROWS = (
    "SELECT tasks.id, tasks.owner_id, (SELECT coalesce(max(id), 0) FROM audit_log), tasks.*"
    " FROM tasks WHERE id = ANY($1::text[])"
)
Row = tuple[Any, ...]


class _AuditedBatch:
    """`audited_task_version` reads sent together as one PostgreSQL statement: those asked
    for in one turn of the event loop, and those asked for while `SENDING` statements are
    already on their way; each caller gets its own row, or None."""

    SENDING = 2

    def __init__(self, raw: RawReads) -> None:
        self.raw = raw
        self._waiting: dict[str, list[tuple[str, asyncio.Future[Row | None]]]] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._scheduled = False

    async def read(self, task_id: str, owner_id: str) -> Row | None:
        answer: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(task_id, []).append((owner_id, answer))
        self._schedule()
        return await answer

    def _schedule(self) -> None:
        if self._waiting and not self._scheduled and len(self._sending) < self.SENDING:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        batch, self._waiting = self._waiting, {}
        sending = asyncio.create_task(self._answer(batch))
        self._sending.add(sending)
        sending.add_done_callback(self._sent)

    def _sent(self, sending: asyncio.Task[None]) -> None:
        self._sending.discard(sending)
        self._schedule()

    async def _answer(self, batch: dict[str, list[tuple[str, asyncio.Future[Row | None]]]]) -> None:
        try:
            rows = await self.raw.postgres_rows(POSTGRES_AUDITED_ROWS, list(batch))
        except BaseException as exc:
            told = exc if isinstance(exc, Exception) else StoreUnavailable("The read was stopped.")
            for waiters in batch.values():
                for _owner, answer in waiters:
                    if not answer.done():
                        answer.set_exception(told)
            if not isinstance(exc, Exception):
                raise
            return
        found = {row[0]: row for row in rows}
        for task_id, waiters in batch.items():
            row = found.get(task_id)
            for owner_id, answer in waiters:
                if not answer.done():
                    answer.set_result(row[2:] if row is not None and row[1] == owner_id else None)


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
        if self.db.sqlite:
            row = await self.raw.row(SQLITE_AUDITED_ROW, POSTGRES_AUDITED_ROW, task_id, owner_id)
        else:
            row = await self._audited_batch.read(task_id, owner_id)
        return None if row is None else (int(row[0]), row[1:])

    @cached_property
    def _audited_batch(self) -> _AuditedBatch:
        return _AuditedBatch(self.raw)

    async def _version_by_record(self, task_id: str, owner_id: str) -> TaskRecord | None:
        async with self.db.reading() as conn:
            result = await conn.execute(TASK_OF_OWNER, {"task_id": task_id, "owner_id": owner_id})
            row = result.mappings().first()
        return None if row is None else task_from(row)
