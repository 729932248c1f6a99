"""The admin API's part of the memory store: changing keys, tasks of every key, provider
health, and the audit log."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime

from vidgate.clock import utcnow
from vidgate.models import Status
from vidgate.records import AuditEntry, KeyChange, KeyRecord, ProviderHealth, TaskFilter, TaskRecord

__all__ = ["MemoryAdmin"]


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _matches(task: TaskRecord, query: TaskFilter) -> bool:
    return all(
        (
            query.owner_id is None or task.owner_id == query.owner_id,
            query.status is None or task.status is query.status,
            query.model is None or task.model == query.model,
            query.provider is None or task.provider == query.provider,
            query.created_from is None or task.created_at >= _naive(query.created_from),
            query.created_to is None or task.created_at <= _naive(query.created_to),
            query.after is None or task.id < query.after,
        )
    )


class MemoryAdmin:
    """A mixin of `MemoryStore`, over its dicts."""

    _keys: dict[str, KeyRecord]
    _tasks: dict[str, TaskRecord]
    _audit: list[AuditEntry]

    async def change_key(self, key_id: str, change: KeyChange) -> KeyRecord | None:
        key = self._keys.get(key_id)
        if key is None or key.revoked_at is not None:
            return None
        quota = key.quota_seconds
        if change.unlimited:
            quota = None
        elif change.quota_seconds is not None:
            quota = change.quota_seconds
        if change.top_up_seconds is not None and quota is not None:
            quota += change.top_up_seconds
        key = dataclasses.replace(
            key,
            name=key.name if change.name is None else change.name,
            quota_seconds=quota,
            key_hash=change.key_hash or key.key_hash,
            prefix=change.prefix or key.prefix,
            revoked_at=None if change.revoked_at is None else _naive(change.revoked_at),
        )
        self._keys[key_id] = key
        return key

    async def record_audit(
        self,
        actor: str,
        action: str,
        target: str,
        before: dict[str, object] | None,
        after: dict[str, object] | None,
    ) -> AuditEntry:
        entry = AuditEntry(
            id=len(self._audit) + 1,
            actor=actor,
            action=action,
            target=target,
            created_at=utcnow(),
            before=copy.deepcopy(before),
            after=copy.deepcopy(after),
        )
        self._audit.append(entry)
        return entry

    async def audit_log(
        self, target: str | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        found = [
            entry
            for entry in reversed(self._audit)
            if (target is None or entry.target == target)
            and (before_id is None or entry.id < before_id)
        ]
        return found[:limit]

    async def last_audit_id(self) -> int:
        return len(self._audit)

    async def tasks_of_any(self, query: TaskFilter, *, limit: int) -> list[TaskRecord]:
        found = [task for task in self._tasks.values() if _matches(task, query)]
        return sorted(found, key=lambda task: task.id, reverse=True)[:limit]

    async def provider_health(self, provider: str, since: datetime) -> ProviderHealth:
        mine = [task for task in self._tasks.values() if task.provider == provider]
        ended = [t for t in mine if t.finished_at is not None and t.finished_at >= _naive(since)]
        failures = sorted(
            (t for t in mine if t.status is Status.FAILED and t.finished_at is not None),
            key=lambda t: t.finished_at or since,
        )
        last = failures[-1] if failures else None
        return ProviderHealth(
            provider=provider,
            queued=sum(t.status is Status.QUEUED for t in mine),
            in_flight=sum(t.status is Status.PROCESSING for t in mine),
            completed=sum(t.status is Status.COMPLETED for t in ended),
            failed=sum(t.status is Status.FAILED for t in ended),
            last_error=None if last is None else last.error,
            last_error_at=None if last is None else last.finished_at,
        )
