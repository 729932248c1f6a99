"""Leases in SQL: claiming runnable tasks, renewing, upstream poll schedules, the reaper's finds."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select, update

from vidgate.clock import utcnow
from vidgate.models import Status
from vidgate.records import TaskRecord, UpstreamAcceptance, UpstreamTaskRef
from vidgate.store.sql.concern import SqlConcern, lease_due
from vidgate.store.sql.database import Connectionlike
from vidgate.store.sql.outbox import append_event
from vidgate.store.sql.rows import task_from
from vidgate.store.sql.tables import api_keys, tasks

__all__ = ["SqlLeases"]

ACTIVE = (Status.QUEUED.value, Status.PROCESSING.value)


def _held_by(task_id: str, worker: str) -> list[ColumnElement[bool]]:
    return [
        tasks.c.id == task_id,
        tasks.c.status == Status.PROCESSING.value,
        tasks.c.lease_owner == worker,
    ]


def _fair_turns(
    provider: str, runnable: ColumnElement[bool], orphaned: ColumnElement[bool], limit: int
) -> Any:
    """Up to ``limit`` runnable tasks of a provider in fair turns (see ``LeaseStore.claim``):
    (id, status) rows, skipping keys at their ``max_in_flight``."""
    holding = and_(tasks.c.status == Status.PROCESSING.value, not_(orphaned))
    waiting = (
        select(
            tasks.c.id,
            tasks.c.status,
            tasks.c.owner_id,
            func.row_number()
            .over(partition_by=tasks.c.owner_id, order_by=tasks.c.id)
            .label("turn"),
        )
        .where(tasks.c.provider == provider, runnable)
        .subquery("waiting")
    )
    here = (
        select(tasks.c.owner_id, func.count().label("running"))
        .where(tasks.c.provider == provider, holding)
        .group_by(tasks.c.owner_id)
        .subquery("here")
    )
    anywhere = (
        select(tasks.c.owner_id, func.count().label("running"))
        .where(holding)
        .group_by(tasks.c.owner_id)
        .subquery("anywhere")
    )
    turn = waiting.c.turn + func.coalesce(here.c.running, 0)
    return (
        select(waiting.c.id, waiting.c.status)
        .select_from(
            waiting.join(api_keys, api_keys.c.id == waiting.c.owner_id)
            .outerjoin(here, here.c.owner_id == waiting.c.owner_id)
            .outerjoin(anywhere, anywhere.c.owner_id == waiting.c.owner_id)
        )
        .where(
            or_(
                api_keys.c.max_in_flight.is_(None),
                waiting.c.turn + func.coalesce(anywhere.c.running, 0) <= api_keys.c.max_in_flight,
            )
        )
        .order_by(turn, waiting.c.id)
        .limit(limit)
    )


class SqlLeases(SqlConcern):
    async def claim(
        self, provider: str, worker: str, lease: timedelta, limit: int, max_attempts: int
    ) -> list[TaskRecord]:
        claimed: list[TaskRecord] = []
        async with self.db.writing() as conn:
            now = await self.db.now(conn)
            claimed = await self._claim(conn, provider, worker, now, lease, limit, max_attempts)
        return claimed

    async def _claim(
        self,
        conn: Connectionlike,
        provider: str,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        max_attempts: int,
    ) -> list[TaskRecord]:
        orphaned = and_(
            tasks.c.status == Status.PROCESSING.value,
            tasks.c.upstream_id.is_(None),
            tasks.c.lease_expires_at < now,
            tasks.c.attempts < max_attempts,
        )
        runnable = or_(tasks.c.status == Status.QUEUED.value, orphaned)
        await self.db.before_claim(conn)
        claimed: list[TaskRecord] = []
        turns = (await conn.execute(_fair_turns(provider, runnable, orphaned, limit))).all()
        if not turns:
            return claimed
        free = await conn.execute(
            select(tasks.c.id)
            .where(tasks.c.id.in_([row[0] for row in turns]), runnable)
            .with_for_update(skip_locked=True)
        )
        unlocked = {row[0] for row in free.all()}
        for task_id, status in turns:
            if task_id not in unlocked:
                continue
            changed = await conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, runnable)
                .values(
                    status=Status.PROCESSING.value,
                    lease_owner=worker,
                    lease_expires_at=now + lease,
                    attempts=tasks.c.attempts + 1,
                    started_at=func.coalesce(tasks.c.started_at, now),
                    updated_at=now,
                )
            )
            if changed.rowcount != 1:
                continue
            task = await self._task(conn, task_id)
            assert task is not None
            if status == Status.QUEUED.value:
                await append_event(self.db, conn, task, now)
            claimed.append(task)
        return claimed

    async def renew(self, task_id: str, worker: str, lease: timedelta) -> bool:
        async with self.db.writing() as conn:
            expires = await self.db.now(conn) + lease
            result = await conn.execute(
                update(tasks).where(*_held_by(task_id, worker)).values(lease_expires_at=expires)
            )
            return bool(result.rowcount == 1)

    async def release(self, task_id: str, worker: str) -> bool:
        async with self.db.writing() as conn:
            now = await self.db.now(conn)
            result = await conn.execute(
                update(tasks)
                .where(*_held_by(task_id, worker), tasks.c.upstream_id.is_(None))
                .values(
                    status=Status.QUEUED.value,
                    lease_owner=None,
                    lease_expires_at=None,
                    attempts=self.db.greater(tasks.c.attempts - 1, 0),
                    progress=0,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return False
            task = await self._task(conn, task_id)
            assert task is not None
            await append_event(self.db, conn, task, now)
            return True

    async def in_flight(self, provider: str) -> int:
        async with self.db.reading() as conn:
            result = await conn.execute(
                select(func.count())
                .select_from(tasks)
                .where(tasks.c.provider == provider, tasks.c.status == Status.PROCESSING.value)
            )
            return int(result.scalar_one())

    async def running_upstream(self, provider: str) -> list[UpstreamTaskRef]:
        async with self.db.reading() as conn:
            result = await conn.execute(
                select(
                    tasks.c.id,
                    tasks.c.upstream_id,
                    tasks.c.credential,
                    func.coalesce(tasks.c.started_at, tasks.c.created_at),
                    tasks.c.next_poll_at,
                    tasks.c.upstream_status.is_not(None),
                ).where(
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.provider == provider,
                    tasks.c.upstream_id.is_not(None),
                    tasks.c.credential.is_not(None),
                )
            )
            return [UpstreamTaskRef(*row) for row in result]

    async def record_upstream(
        self, task_id: str, worker: str, accepted: UpstreamAcceptance
    ) -> bool:
        now = utcnow()
        async with self.db.writing() as conn:
            result = await conn.execute(
                update(tasks)
                .where(*_held_by(task_id, worker))
                .values(
                    provider=accepted.provider,
                    upstream_id=accepted.upstream_id,
                    credential=accepted.credential,
                    next_poll_at=accepted.next_poll_at,
                    poll_failures=0,
                    lease_owner=None,
                    lease_expires_at=None,
                    started_at=now,
                    updated_at=now,
                )
            )
            return bool(result.rowcount == 1)

    async def claim_polls(
        self, providers: Collection[str], worker: str, lease: timedelta, limit: int
    ) -> list[TaskRecord]:
        async with self.db.writing() as conn:
            now = await self.db.now(conn)
            return await self._claim_polls(conn, providers, worker, now, lease, limit)

    async def _claim_polls(
        self,
        conn: Connectionlike,
        providers: Collection[str],
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
    ) -> list[TaskRecord]:
        due = and_(
            tasks.c.status == Status.PROCESSING.value,
            tasks.c.provider.in_(list(providers)),
            tasks.c.upstream_id.is_not(None),
            tasks.c.next_poll_at <= now,
            or_(tasks.c.lease_owner.is_(None), tasks.c.lease_expires_at < now),
        )
        expires = now + lease
        if not await lease_due(conn, tasks, due, tasks.c.next_poll_at, limit, worker, expires):
            return []
        rows = await conn.execute(
            select(tasks).where(tasks.c.lease_owner == worker, tasks.c.lease_expires_at == expires)
        )
        return [task_from(row) for row in rows.mappings()]

    async def reschedule(
        self,
        task_id: str,
        worker: str,
        *,
        next_poll_at: datetime,
        upstream_status: str | None,
        failed_poll: bool,
    ) -> bool:
        values: dict[str, Any] = {
            "next_poll_at": next_poll_at,
            "poll_failures": tasks.c.poll_failures + 1 if failed_poll else 0,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if upstream_status is not None:
            values["upstream_status"] = upstream_status
        async with self.db.writing() as conn:
            result = await conn.execute(
                update(tasks).where(*_held_by(task_id, worker)).values(**values)
            )
            return bool(result.rowcount == 1)

    async def expedite_poll(self, task_id: str, at: datetime) -> bool:
        async with self.db.writing() as conn:
            result = await conn.execute(
                update(tasks)
                .where(
                    tasks.c.id == task_id,
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.upstream_id.is_not(None),
                    or_(tasks.c.next_poll_at.is_(None), tasks.c.next_poll_at > at),
                )
                .values(next_poll_at=at)
            )
            return bool(result.rowcount == 1)

    async def overdue(self, deadline: datetime, limit: int = 100) -> list[TaskRecord]:
        async with self.db.reading() as conn:
            result = await conn.execute(
                select(tasks)
                .where(tasks.c.status.in_(ACTIVE), tasks.c.created_at < deadline)
                .limit(limit)
            )
            return [task_from(row) for row in result.mappings()]

    async def exhausted(self, max_attempts: int, limit: int = 100) -> list[TaskRecord]:
        async with self.db.reading() as conn:
            now = await self.db.now(conn)
            result = await conn.execute(
                select(tasks)
                .where(
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.upstream_id.is_(None),
                    tasks.c.lease_expires_at < now,
                    tasks.c.attempts >= max_attempts,
                )
                .limit(limit)
            )
            return [task_from(row) for row in result.mappings()]
