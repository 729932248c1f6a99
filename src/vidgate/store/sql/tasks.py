"""Tasks in SQL: insert with a reservation, reads, listings, and compare-and-set transitions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from vidgate.clock import utcnow
from vidgate.models import TERMINAL, Status
from vidgate.pricing import settlement
from vidgate.records import NewTask, TaskQuery, TaskRecord, Transition
from vidgate.store.base import QuotaShort, SubmitRateLimited
from vidgate.store.sql.concern import SqlConcern
from vidgate.store.sql.database import Connectionlike
from vidgate.store.sql.outbox import append_event
from vidgate.store.sql.rows import result_values, task_from, task_values
from vidgate.store.sql.submits import (
    INSERT_LEDGER,
    INSERT_TASKS,
    SubmitGroups,
    ledger_reservation,
)
from vidgate.store.sql.tables import (
    api_keys,
    deliveries,
    delivery_attempts,
    events,
    tasks,
)

__all__ = ["SqlTasks"]

TASK_OF_OWNER = select(tasks).where(
    tasks.c.id == bindparam("task_id"), tasks.c.owner_id == bindparam("owner_id")
)
_BALANCE = api_keys.c.quota_seconds - api_keys.c.used_seconds - api_keys.c.reserved_seconds
RESERVE = (
    update(api_keys)
    .where(
        api_keys.c.id == bindparam("owner_id"),
        or_(api_keys.c.quota_seconds.is_(None), bindparam("needed") <= _BALANCE),
    )
    .values(reserved_seconds=api_keys.c.reserved_seconds + bindparam("adding"))
    .returning(api_keys.c.max_submits_per_minute)
)
"""Reserve `needed` (= `adding`) seconds of the key's quota, unless that would overdraw it,
and read the key's submit rate limit in the same statement. Built once: the statements of a
submit are the same every time, only their values differ."""
RATE_WINDOW = timedelta(seconds=60)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _matching(owner_id: str, query: TaskQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [tasks.c.owner_id == owner_id]
    if query.status is not None:
        where.append(tasks.c.status == query.status.value)
    if query.model is not None:
        where.append(tasks.c.model == query.model)
    if query.provider is not None:
        where.append(tasks.c.provider == query.provider)
    if query.task_id is not None:
        where.append(tasks.c.id == query.task_id)
    if query.created_from is not None:
        where.append(tasks.c.created_at >= _naive(query.created_from))
    if query.created_to is not None:
        where.append(tasks.c.created_at <= _naive(query.created_to))
    if query.after is not None:
        where.append(tasks.c.id > query.after if query.ascending else tasks.c.id < query.after)
    return where


class SqlTasks(SqlConcern):
    submits: SubmitGroups

    async def insert_task(self, task: NewTask) -> tuple[TaskRecord, bool]:
        if task.idempotency_key is None:
            return await self.submits.insert(task), True
        return await self.insert_alone(task)

    async def insert_alone(self, task: NewTask) -> tuple[TaskRecord, bool]:
        """Insert ``task`` in a transaction of its own (`insert_task`, without grouping)."""
        try:
            async with self.db.writing() as conn:
                existing = await self._by_idempotency(conn, task.owner_id, task.idempotency_key)
                if existing is not None:
                    return existing, False
                limit = await self._reserve(conn, task.owner_id, task.reserved_seconds)
                await self._check_rate(conn, task.owner_id, task.created_at, limit)
                await conn.execute(INSERT_TASKS, task_values(task))
                await conn.execute(INSERT_LEDGER, ledger_reservation(task))
                stored = TaskRecord.queued(task)
                await append_event(self.db, conn, stored, task.created_at)
                return stored, True
        except IntegrityError:
            if task.idempotency_key is None:
                raise
            async with self.db.reading() as conn:
                existing = await self._by_idempotency(conn, task.owner_id, task.idempotency_key)
            if existing is None:
                raise
            return existing, False

    @staticmethod
    async def _reserve(conn: Connectionlike, owner_id: str, seconds: float) -> int | None:
        """Reserve the seconds (QuotaShort if the key has too few); the key's submit limit."""
        reserved = await conn.execute(
            RESERVE, {"owner_id": owner_id, "needed": seconds, "adding": seconds}
        )
        row = reserved.first()
        if row is None:
            raise QuotaShort
        limit: int | None = row[0]
        return limit

    @staticmethod
    async def _check_rate(
        conn: Connectionlike, owner_id: str, now: datetime, limit: int | None
    ) -> None:
        """Raise SubmitRateLimited when the key is at its submit rate `limit`. It runs after
        the reservation, whose update holds the key's row, so racing submits count each other."""
        if limit is None:
            return
        recent = await conn.execute(
            select(tasks.c.created_at)
            .where(tasks.c.owner_id == owner_id, tasks.c.created_at > now - RATE_WINDOW)
            .order_by(tasks.c.created_at.desc())
            .offset(max(0, limit - 1))
            .limit(1)
        )
        oldest_counted = recent.scalar_one_or_none()
        if oldest_counted is not None:
            wait = (oldest_counted + RATE_WINDOW - now).total_seconds()
            raise SubmitRateLimited(max(wait, 0.001))

    @staticmethod
    async def _by_idempotency(
        conn: Connectionlike, owner_id: str, key: str | None
    ) -> TaskRecord | None:
        if key is None:
            return None
        result = await conn.execute(
            select(tasks).where(tasks.c.owner_id == owner_id, tasks.c.idempotency_key == key)
        )
        row = result.mappings().first()
        return None if row is None else task_from(row)

    async def task_by_idempotency(self, owner_id: str, key: str) -> TaskRecord | None:
        async with self.db.reading() as conn:
            return await self._by_idempotency(conn, owner_id, key)

    async def task(self, task_id: str, owner_id: str | None = None) -> TaskRecord | None:
        async with self.db.reading() as conn:
            if owner_id is None:
                return await self._task(conn, task_id)
            result = await conn.execute(TASK_OF_OWNER, {"task_id": task_id, "owner_id": owner_id})
            row = result.mappings().first()
            return None if row is None else task_from(row)

    async def find_tasks(
        self, owner_id: str, query: TaskQuery, *, limit: int, offset: int = 0
    ) -> list[TaskRecord]:
        order = tasks.c.id.asc() if query.ascending else tasks.c.id.desc()
        statement = (
            select(tasks)
            .where(*_matching(owner_id, query))
            .order_by(order)
            .limit(limit)
            .offset(offset)
        )
        async with self.db.reading() as conn:
            return [task_from(row) for row in (await conn.execute(statement)).mappings()]

    async def count_tasks(self, owner_id: str, query: TaskQuery) -> int:
        statement = select(func.count()).select_from(tasks).where(*_matching(owner_id, query))
        async with self.db.reading() as conn:
            return int((await conn.execute(statement)).scalar_one())

    async def transition(self, task_id: str, change: Transition) -> TaskRecord | None:
        if any(status.terminal for status in change.expected):
            raise ValueError("a terminal status never changes")
        now = utcnow()
        to = change.to
        conditions = [
            tasks.c.id == task_id,
            tasks.c.status.in_([s.value for s in change.expected]),
        ]
        if change.owner_id is not None:
            conditions.append(tasks.c.owner_id == change.owner_id)
        if change.worker is not None:
            conditions.append(tasks.c.lease_owner == change.worker)
        changes: dict[str, Any] = {"status": to.value, "updated_at": now}
        if change.error is not None:
            changes["error"] = change.error.model_dump()
        if change.result is not None:
            changes["result"] = result_values(change.result)
        if change.usage is not None:
            changes["usage"] = change.usage.model_dump()
        if change.upstream_status is not None:
            changes["upstream_status"] = change.upstream_status
        if to is Status.COMPLETED:
            changes["progress"] = 100
        if to.terminal:
            changes.update(finished_at=now, lease_owner=None, lease_expires_at=None)
        async with self.db.writing() as conn:
            updated = await conn.execute(update(tasks).where(*conditions).values(**changes))
            if updated.rowcount != 1:
                return None
            task = await self._task(conn, task_id)
            assert task is not None
            if to.terminal:
                task = await self._close_reservation(conn, task, change.settle_seconds, now)
            await append_event(self.db, conn, task, now)
            return task

    @staticmethod
    async def _close_reservation(
        conn: Connectionlike, task: TaskRecord, settle_seconds: float | None, now: datetime
    ) -> TaskRecord:
        """Settle or refund the task's reservation; the task with its cost recorded."""
        reserved = task.reserved_seconds
        settle = task.status is Status.COMPLETED
        used = settlement(task.price, reserved, settle_seconds) if settle else 0.0
        billed = settle_seconds if settle else None
        await conn.execute(
            update(tasks).where(tasks.c.id == task.id).values(cost=used, billed_seconds=billed)
        )
        await conn.execute(
            INSERT_LEDGER,
            {
                "key_id": task.owner_id,
                "task_id": task.id,
                "kind": "settle" if settle else "refund",
                "phase": "close",
                "seconds": used if settle else reserved,
                "created_at": now,
            },
        )
        await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == task.owner_id)
            .values(
                reserved_seconds=api_keys.c.reserved_seconds - reserved,
                used_seconds=api_keys.c.used_seconds + used,
            )
        )
        return dataclasses.replace(task, cost=used, billed_seconds=billed)

    async def set_progress(self, task_id: str, worker: str, progress: int) -> bool:
        now = utcnow()
        async with self.db.writing() as conn:
            updated = await conn.execute(
                update(tasks)
                .where(
                    tasks.c.id == task_id,
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.lease_owner == worker,
                    tasks.c.progress < progress,
                )
                .values(progress=progress, updated_at=now)
            )
            if updated.rowcount != 1:
                return False
            task = await self._task(conn, task_id)
            assert task is not None
            await append_event(self.db, conn, task, now)
            return True

    async def results_to_purge(
        self, finished_before: datetime, limit: int = 100
    ) -> list[TaskRecord]:
        async with self.db.reading() as conn:
            result = await conn.execute(
                select(tasks)
                .where(
                    tasks.c.results_purged_at.is_(None),
                    tasks.c.finished_at < finished_before,
                    tasks.c.status == Status.COMPLETED.value,
                )
                .order_by(tasks.c.finished_at)
                .limit(limit)
            )
            return [task_from(row) for row in result.mappings()]

    async def mark_results_purged(self, task_id: str) -> None:
        async with self.db.writing() as conn:
            await conn.execute(
                update(tasks).where(tasks.c.id == task_id).values(results_purged_at=utcnow())
            )

    async def delete_task(self, task_id: str, owner_id: str) -> TaskRecord | None:
        finished = [status.value for status in TERMINAL]
        async with self.db.writing() as conn:
            result = await conn.execute(TASK_OF_OWNER, {"task_id": task_id, "owner_id": owner_id})
            row = result.mappings().first()
            if row is None or row["status"] not in finished:
                return None
            sent = select(deliveries.c.id).where(deliveries.c.task_id == task_id)
            await conn.execute(
                delete(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(sent))
            )
            await conn.execute(delete(deliveries).where(deliveries.c.task_id == task_id))
            await conn.execute(delete(events).where(events.c.task_id == task_id))
            await conn.execute(
                delete(tasks).where(tasks.c.id == task_id, tasks.c.status.in_(finished))
            )
            return task_from(row)
