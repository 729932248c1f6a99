"""The admin API's queries in SQL: changing keys, tasks of every key, provider health, and
the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update

from vidgate.clock import utcnow
from vidgate.models import Status, TaskError
from vidgate.records import AuditEntry, KeyChange, KeyRecord, ProviderHealth, TaskFilter, TaskRecord
from vidgate.store.sql.coalesce import SharedRead
from vidgate.store.sql.concern import SqlConcern
from vidgate.store.sql.rows import audit_from, key_from, task_from
from vidgate.store.sql.tables import api_keys, audit_log, tasks

__all__ = ["SqlAdmin"]

LAST_AUDIT_ID = "SELECT max(id) FROM audit_log"


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _key_values(change: KeyChange) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if change.name is not None:
        values["name"] = change.name
    if change.unlimited:
        values["quota_seconds"] = None
    elif change.quota_seconds is not None:
        values["quota_seconds"] = change.quota_seconds
    if change.top_up_seconds is not None:
        values["quota_seconds"] = api_keys.c.quota_seconds + change.top_up_seconds
    if change.key_hash is not None:
        values["key_hash"] = change.key_hash
        values["prefix"] = change.prefix
    if change.revoked_at is not None:
        values["revoked_at"] = _naive(change.revoked_at)
    return values


def _matching(query: TaskFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.owner_id is not None:
        where.append(tasks.c.owner_id == query.owner_id)
    if query.status is not None:
        where.append(tasks.c.status == query.status.value)
    if query.model is not None:
        where.append(tasks.c.model == query.model)
    if query.provider is not None:
        where.append(tasks.c.provider == query.provider)
    if query.created_from is not None:
        where.append(tasks.c.created_at >= _naive(query.created_from))
    if query.created_to is not None:
        where.append(tasks.c.created_at <= _naive(query.created_to))
    if query.after is not None:
        where.append(tasks.c.id < query.after)
    return where


class SqlAdmin(SqlConcern):
    async def change_key(self, key_id: str, change: KeyChange) -> KeyRecord | None:
        values = _key_values(change)
        unrevoked = [api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)]
        async with self.db.writing() as conn:
            if values:
                result = await conn.execute(update(api_keys).where(*unrevoked).values(**values))
                if result.rowcount == 0:
                    return None
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).mappings()
            found = row.first()
            if found is None or (not values and found["revoked_at"] is not None):
                return None
            return key_from(found)

    async def record_audit(
        self,
        actor: str,
        action: str,
        target: str,
        before: dict[str, object] | None,
        after: dict[str, object] | None,
    ) -> AuditEntry:
        values = {
            "actor": actor,
            "action": action,
            "target": target,
            "before": before,
            "after": after,
            "created_at": utcnow(),
        }
        async with self.db.writing() as conn:
            result = await conn.execute(insert(audit_log).values(**values).returning(audit_log))
            return audit_from(result.mappings().one())

    async def audit_log(
        self, target: str | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        statement = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if target is not None:
            statement = statement.where(audit_log.c.target == target)
        if before_id is not None:
            statement = statement.where(audit_log.c.id < before_id)
        async with self.db.reading() as conn:
            return [audit_from(row) for row in (await conn.execute(statement)).mappings()]

    async def last_audit_id(self) -> int:
        # Asked on every authenticated request: a plain statement on a connection kept for
        # such reads costs a fraction of a pooled SQLAlchemy query; on PostgreSQL, where it
        # is a round trip, the requests of one turn share it.
        if self.raw.available:
            if self.db.sqlite:
                return await self._read_last_audit_id()
            return await self._shared_last_audit_id()
        async with self.db.reading() as conn:
            found = (await conn.execute(select(func.max(audit_log.c.id)))).scalar_one()
            return int(found or 0)

    async def _read_last_audit_id(self) -> int:
        found = await self.raw.row(LAST_AUDIT_ID, LAST_AUDIT_ID)
        return int((found or (0,))[0] or 0)

    @cached_property
    def _shared_last_audit_id(self) -> SharedRead[int]:
        return SharedRead(self._read_last_audit_id)

    async def tasks_of_any(self, query: TaskFilter, *, limit: int) -> list[TaskRecord]:
        statement = select(tasks).where(*_matching(query)).order_by(tasks.c.id.desc()).limit(limit)
        async with self.db.reading() as conn:
            return [task_from(row) for row in (await conn.execute(statement)).mappings()]

    async def provider_health(self, provider: str, since: datetime) -> ProviderHealth:
        counts = (
            select(tasks.c.status, func.count())
            .where(tasks.c.provider == provider)
            .where(
                tasks.c.status.in_([Status.QUEUED.value, Status.PROCESSING.value])
                | (tasks.c.finished_at >= _naive(since))
            )
            .group_by(tasks.c.status)
        )
        last_failure = (
            select(tasks.c.error, tasks.c.finished_at)
            .where(tasks.c.provider == provider, tasks.c.status == Status.FAILED.value)
            .order_by(tasks.c.finished_at.desc())
            .limit(1)
        )
        async with self.db.reading() as conn:
            found = {str(status): int(n) for status, n in (await conn.execute(counts)).all()}
            failure = (await conn.execute(last_failure)).first()
        error = None if failure is None or failure[0] is None else TaskError(**failure[0])
        return ProviderHealth(
            provider=provider,
            queued=found.get(Status.QUEUED.value, 0),
            in_flight=found.get(Status.PROCESSING.value, 0),
            completed=found.get(Status.COMPLETED.value, 0),
            failed=found.get(Status.FAILED.value, 0),
            last_error=error,
            last_error_at=None if failure is None else failure[1],
        )
