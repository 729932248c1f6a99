"""The admin API's rules: managing keys, every key's tasks, provider health and the ledger,
each change recorded in the audit log with the target before and after.

``actor`` names who acts: an admin key's id, or ``cli`` for the command line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from vidgate.clock import utcnow
from vidgate.errors import Conflict, InvalidRequest, NotFound
from vidgate.ids import hash_key, new_api_key
from vidgate.models import Task
from vidgate.records import (
    AuditEntry,
    KeyChange,
    KeyRecord,
    LedgerEntry,
    TaskFilter,
    TaskRecord,
)
from vidgate.service.audit import health_view, key_view, task_view
from vidgate.service.keys import NewKey, create_key, key_prefix
from vidgate.service.tasks import Tasks
from vidgate.store import Store

__all__ = ["Admin", "AdminPage", "KeyAdmin", "check_limit", "check_name", "check_quota"]

HEALTH_WINDOW = timedelta(hours=1)
MAX_NAME = 200


@dataclass(frozen=True)
class AdminPage:
    """One page of tasks across keys."""

    tasks: list[tuple[TaskRecord, Task]]
    has_more: bool


def check_name(name: str) -> str:
    """A key's label: 1-200 characters, not all blank."""
    if not name.strip() or len(name) > MAX_NAME:
        raise InvalidRequest(f"name must be 1-{MAX_NAME} characters.", param="name")
    return name


def check_quota(seconds: float, param: str = "quota", *, positive: bool = False) -> float:
    """A quota amount: finite, and zero or more (more than zero for ``positive``)."""
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        bound = "more than zero" if positive else "zero or more"
        raise InvalidRequest(f"{param} must be a finite number, {bound}.", param=param)
    return seconds


def check_limit(value: int | None, param: str) -> int | None:
    """A per-key limit: a whole number of at least 1, or None for none."""
    if value is not None and (isinstance(value, bool) or value < 1):
        raise InvalidRequest(f"{param} must be a whole number of at least 1, or null.", param=param)
    return value


class KeyAdmin:
    """What an admin key (or the command line) may do to every key."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def _audit(
        self,
        actor: str,
        action: str,
        target: str,
        before: dict[str, object] | None,
        after: dict[str, object] | None,
    ) -> AuditEntry:
        return await self.store.record_audit(actor, action, target, before, after)

    async def key(self, key_id: str) -> KeyRecord:
        found = await self.store.key_by_id(key_id)
        if found is None:
            raise NotFound(f"No key {key_id!r}.", param="key_id")
        return found

    async def keys(self) -> list[KeyRecord]:
        return await self.store.list_keys()

    async def create_key(
        self, actor: str, name: str, quota_seconds: float | None, *, admin: bool = False
    ) -> tuple[NewKey, KeyRecord]:
        """A new key, its secret shown this once."""
        check_name(name)
        if quota_seconds is not None:
            check_quota(quota_seconds)
        made = await create_key(self.store, name, quota_seconds, admin=admin)
        key = await self.key(made.key_id)
        await self._audit(actor, "key.create", key.id, None, key_view(key))
        return made, key

    async def _change(self, actor: str, action: str, key_id: str, change: KeyChange) -> KeyRecord:
        before = await self.key(key_id)
        if before.revoked_at is not None:
            raise Conflict(f"Key {key_id} is revoked.", param="key_id", code="key_revoked")
        after = await self.store.change_key(key_id, change)
        if after is None:
            raise Conflict(f"Key {key_id} is revoked.", param="key_id", code="key_revoked")
        await self._audit(actor, action, key_id, key_view(before), key_view(after))
        return after

    async def revoke(self, actor: str, key_id: str) -> KeyRecord:
        """Revoke a key: from the moment this returns, every process answers it 401."""
        return await self._change(actor, "key.revoke", key_id, KeyChange(revoked_at=utcnow()))

    async def rotate(self, actor: str, key_id: str) -> tuple[NewKey, KeyRecord]:
        """Give a key a new secret, shown this once; the old one stops working at once. The
        key keeps its id, tasks, quota and ledger."""
        secret = new_api_key()
        change = KeyChange(key_hash=hash_key(secret), prefix=key_prefix(secret))
        key = await self._change(actor, "key.rotate", key_id, change)
        return NewKey(secret, key.id), key

    async def rename(self, actor: str, key_id: str, name: str) -> KeyRecord:
        return await self._change(actor, "key.rename", key_id, KeyChange(name=check_name(name)))

    async def set_quota(
        self,
        actor: str,
        key_id: str,
        *,
        quota_seconds: float | None = None,
        unlimited: bool = False,
        top_up_seconds: float | None = None,
    ) -> KeyRecord:
        """Set a key's quota (or make it unlimited), or top it up by an amount."""
        given = sum((quota_seconds is not None, unlimited, top_up_seconds is not None))
        if given != 1:
            raise InvalidRequest(
                "Give exactly one of quota (a number, or null for unlimited) and top_up.",
                param="quota",
            )
        if quota_seconds is not None:
            check_quota(quota_seconds)
        if top_up_seconds is not None:
            check_quota(top_up_seconds, "top_up", positive=True)
            if (await self.key(key_id)).quota_seconds is None:
                raise Conflict(
                    "The key is unlimited; set a quota instead of topping it up.",
                    param="top_up",
                    code="key_unlimited",
                )
        change = KeyChange(
            quota_seconds=quota_seconds, unlimited=unlimited, top_up_seconds=top_up_seconds
        )
        action = "key.top_up" if top_up_seconds is not None else "key.set_quota"
        return await self._change(actor, action, key_id, change)

    async def set_limits(
        self, actor: str, key_id: str, max_in_flight: int | None, max_submits_per_minute: int | None
    ) -> KeyRecord:
        """Set a key's limits: tasks in flight at once, and submits a minute (None: none)."""
        check_limit(max_in_flight, "max_in_flight")
        check_limit(max_submits_per_minute, "max_submits_per_minute")
        before = await self.key(key_id)
        if before.revoked_at is not None:
            raise Conflict(f"Key {key_id} is revoked.", param="key_id", code="key_revoked")
        after = await self.store.set_key_limits(key_id, max_in_flight, max_submits_per_minute)
        if after is None:
            raise NotFound(f"No key {key_id!r}.", param="key_id")
        await self._audit(actor, "key.set_limits", key_id, key_view(before), key_view(after))
        return after

    async def ledger(self, key_id: str) -> list[LedgerEntry]:
        await self.key(key_id)
        return await self.store.ledger_for(key_id)


class Admin(KeyAdmin):
    """What an admin key may do to every key and task, and what it may see of providers."""

    def __init__(self, store: Store, tasks: Tasks) -> None:
        super().__init__(store)
        self.tasks = tasks

    async def find_tasks(self, query: TaskFilter, *, limit: int) -> AdminPage:
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit must be within 1-100.", param="limit")
        found = await self.store.tasks_of_any(query, limit=limit + 1)
        shown = [(task, self.tasks.presenter.task(task)) for task in found[:limit]]
        return AdminPage(shown, len(found) > limit)

    async def cancel(self, actor: str, task_id: str) -> tuple[TaskRecord, Task]:
        """Cancel any key's task, as its owner could."""
        before = await self.store.task(task_id)
        if before is None:
            raise NotFound(f"No task {task_id!r}.", param="task_id")
        cancelled = await self.tasks.cancel(before.owner_id, task_id, by_admin=True)
        after = await self.store.task(task_id)
        assert after is not None
        await self._audit(actor, "task.cancel", task_id, task_view(before), task_view(after))
        return after, cancelled

    async def providers(self) -> list[dict[str, object]]:
        """Every configured provider's health, from the tasks the store holds."""
        since = utcnow() - HEALTH_WINDOW
        window = HEALTH_WINDOW.total_seconds()
        return [
            health_view(await self.store.provider_health(name, since), window)
            for name in self.tasks.providers.names()
        ]

    async def audit_log(
        self, target: str | None, before_id: int | None, limit: int
    ) -> list[AuditEntry]:
        if not 1 <= limit <= 500:
            raise InvalidRequest("limit must be within 1-500.", param="limit")
        return await self.store.audit_log(target, before_id, limit)
