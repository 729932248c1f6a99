"""What the admin API and its audit log show of keys and tasks: never a secret or a hash."""

from __future__ import annotations

from vidgate.clock import iso
from vidgate.records import AuditEntry, KeyRecord, LedgerEntry, ProviderHealth, TaskRecord

__all__ = ["audit_view", "health_view", "key_view", "ledger_view", "task_view"]


def key_view(key: KeyRecord) -> dict[str, object]:
    """A key as an admin sees it: its counters, limits and role, without its secrets."""
    return {
        "key_id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "admin": key.admin,
        "quota": key.quota_seconds,
        "used": key.used_seconds,
        "reserved": key.reserved_seconds,
        "balance": key.balance,
        "unlimited": key.quota_seconds is None,
        "max_in_flight": key.max_in_flight,
        "max_submits_per_minute": key.max_submits_per_minute,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


def task_view(task: TaskRecord) -> dict[str, object]:
    """What the audit log keeps of a task an admin changed."""
    return {
        "task_id": task.id,
        "key_id": task.owner_id,
        "model": task.model,
        "provider": task.provider,
        "status": task.status.value,
    }


def audit_view(entry: AuditEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "created_at": iso(entry.created_at),
        "before": entry.before,
        "after": entry.after,
    }


def ledger_view(entry: LedgerEntry) -> dict[str, object]:
    return {
        "task_id": entry.task_id,
        "kind": entry.kind,
        "phase": entry.phase,
        "seconds": entry.seconds,
        "created_at": iso(entry.created_at),
    }


def health_view(health: ProviderHealth, window_seconds: float) -> dict[str, object]:
    """A provider's health: tasks queued and in flight now, and how those that ended within
    the window went (``error_rate``: failed over ended, None when none ended)."""
    ended = health.completed + health.failed
    return {
        "provider": health.provider,
        "queued": health.queued,
        "in_flight": health.in_flight,
        "window_seconds": window_seconds,
        "completed": health.completed,
        "failed": health.failed,
        "error_rate": round(health.failed / ended, 4) if ended else None,
        "last_error": None if health.last_error is None else health.last_error.model_dump(),
        "last_error_at": iso(health.last_error_at),
    }
