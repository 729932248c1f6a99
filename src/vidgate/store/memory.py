"""The store in this process's memory: the same contract as SQL, for tests and throwaway runs.

Every method runs to completion without awaiting anything, so on one event loop each call
is atomic, as a transaction is; listeners hear of its events after it has made its changes.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from vidgate.clock import utcnow
from vidgate.models import Status
from vidgate.pricing import settlement
from vidgate.records import (
    AttemptReport,
    AuditEntry,
    ClusterRecord,
    Delivery,
    DeliveryAttempt,
    Event,
    FileRecord,
    KeyRecord,
    LedgerEntry,
    NewTask,
    TaskQuery,
    TaskRecord,
    Transition,
    UpstreamAcceptance,
    UpstreamTaskRef,
)
from vidgate.store.base import Listener, QuotaShort, SubmitRateLimited
from vidgate.store.fairness import fair_turns
from vidgate.store.memory_admin import MemoryAdmin
from vidgate.webhooks import event_type, wants_delivery

__all__ = ["MemoryStore"]

T = TypeVar("T")
RATE_WINDOW = timedelta(seconds=60)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _matches(task: TaskRecord, owner_id: str, query: TaskQuery) -> bool:
    checks = (
        task.owner_id == owner_id,
        query.status is None or task.status is query.status,
        query.model is None or task.model == query.model,
        query.provider is None or task.provider == query.provider,
        query.task_id is None or task.id == query.task_id,
        query.created_from is None or task.created_at >= _naive(query.created_from),
        query.created_to is None or task.created_at <= _naive(query.created_to),
        query.after is None
        or (task.id > query.after if query.ascending else task.id < query.after),
    )
    return all(checks)


def _given(new: T | None, old: T | None) -> T | None:
    return old if new is None else new


class MemoryStore(MemoryAdmin):
    """Keys, tasks, events, deliveries and files in dicts; nothing survives the process."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self._keys: dict[str, KeyRecord] = {}
        self._tasks: dict[str, TaskRecord] = {}
        self._ledger: list[LedgerEntry] = []
        self._events: list[Event] = []
        self._deliveries: dict[str, Delivery] = {}
        self._delivery_leases: dict[str, tuple[str, datetime]] = {}
        self._files: dict[str, FileRecord] = {}
        self._purged: set[str] = set()
        self._cluster: ClusterRecord | None = None
        self._ids = itertools.count(1)
        self._audit: list[AuditEntry] = []

    async def open(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # keys

    async def insert_key(self, key: KeyRecord) -> None:
        if key.id in self._keys or any(k.key_hash == key.key_hash for k in self._keys.values()):
            raise ValueError(f"key {key.id} exists")
        self._keys[key.id] = key

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        return next(
            (k for k in self._keys.values() if k.key_hash == key_hash and k.revoked_at is None),
            None,
        )

    async def key_by_id(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    async def list_keys(self) -> list[KeyRecord]:
        return sorted(self._keys.values(), key=lambda key: key.created_at)

    async def ledger_for(self, key_id: str) -> list[LedgerEntry]:
        return [entry for entry in self._ledger if entry.key_id == key_id]

    async def set_key_limits(
        self, key_id: str, max_in_flight: int | None, max_submits_per_minute: int | None
    ) -> KeyRecord | None:
        key = self._keys.get(key_id)
        if key is None:
            return None
        key = self._keys[key_id] = dataclasses.replace(
            key, max_in_flight=max_in_flight, max_submits_per_minute=max_submits_per_minute
        )
        return key

    async def set_webhook_secret(self, key_id: str, secret: str) -> str:
        key = self._keys[key_id]
        if key.webhook_secret is None:
            key = self._keys[key_id] = dataclasses.replace(key, webhook_secret=secret)
        assert key.webhook_secret is not None
        return key.webhook_secret

    def _book(
        self,
        task: TaskRecord,
        kind: Literal["reserve", "settle", "refund"],
        seconds: float,
        now: datetime,
    ) -> None:
        phase: Literal["open", "close"] = "open" if kind == "reserve" else "close"
        if any(e.task_id == task.id and e.phase == phase for e in self._ledger):
            raise AssertionError(f"task {task.id} already has a {phase} entry")
        entry = LedgerEntry(
            len(self._ledger) + 1, task.owner_id, task.id, kind, phase, seconds, now
        )
        self._ledger.append(entry)

    # tasks

    async def insert_task(self, task: NewTask) -> tuple[TaskRecord, bool]:
        if task.idempotency_key is not None:
            existing = await self.task_by_idempotency(task.owner_id, task.idempotency_key)
            if existing is not None:
                return existing, False
        key = self._keys[task.owner_id]
        balance = key.balance
        if balance is not None and balance < task.reserved_seconds:
            raise QuotaShort
        self._check_rate(key, task.created_at)
        self._keys[key.id] = dataclasses.replace(
            key, reserved_seconds=key.reserved_seconds + task.reserved_seconds
        )
        stored = TaskRecord.queued(task)
        self._tasks[task.id] = stored
        self._book(stored, "reserve", task.reserved_seconds, task.created_at)
        self._announce([self._append_event(stored, task.created_at)])
        return stored, True

    def _check_rate(self, key: KeyRecord, now: datetime) -> None:
        limit = key.max_submits_per_minute
        if limit is None:
            return
        since = now - RATE_WINDOW
        recent = sorted(
            (t.created_at for t in self._tasks.values() if t.owner_id == key.id),
            reverse=True,
        )
        recent = [moment for moment in recent if moment > since]
        if len(recent) >= limit:
            wait = (recent[max(0, limit - 1)] + RATE_WINDOW - now).total_seconds()
            raise SubmitRateLimited(max(wait, 0.001))

    async def task(self, task_id: str, owner_id: str | None = None) -> TaskRecord | None:
        task = self._tasks.get(task_id)
        if task is None or (owner_id is not None and task.owner_id != owner_id):
            return None
        return task

    async def task_version(self, task_id: str, owner_id: str) -> object | None:
        return await self.task(task_id, owner_id)

    async def audited_task_version(self, task_id: str, owner_id: str) -> tuple[int, object] | None:
        version = await self.task_version(task_id, owner_id)
        return None if version is None else (await self.last_audit_id(), version)

    def change_stamp(self) -> int | None:
        return None

    async def task_by_idempotency(self, owner_id: str, key: str) -> TaskRecord | None:
        return next(
            (
                t
                for t in self._tasks.values()
                if t.owner_id == owner_id and t.idempotency_key == key
            ),
            None,
        )

    async def find_tasks(
        self, owner_id: str, query: TaskQuery, *, limit: int, offset: int = 0
    ) -> list[TaskRecord]:
        found = sorted(
            (t for t in self._tasks.values() if _matches(t, owner_id, query)),
            key=lambda task: task.id,
            reverse=not query.ascending,
        )
        return found[offset : offset + limit]

    async def count_tasks(self, owner_id: str, query: TaskQuery) -> int:
        return sum(1 for t in self._tasks.values() if _matches(t, owner_id, query))

    async def transition(self, task_id: str, change: Transition) -> TaskRecord | None:
        if any(status.terminal for status in change.expected):
            raise ValueError("a terminal status never changes")
        task = self._tasks.get(task_id)
        if (
            task is None
            or task.status not in change.expected
            or (change.owner_id is not None and task.owner_id != change.owner_id)
            or (change.worker is not None and task.lease_owner != change.worker)
        ):
            return None
        now = utcnow()
        to = change.to
        task = dataclasses.replace(
            task,
            status=to,
            updated_at=now,
            error=_given(change.error, task.error),
            result=_given(change.result, task.result),
            usage=_given(change.usage, task.usage),
            upstream_status=_given(change.upstream_status, task.upstream_status),
            progress=100 if to is Status.COMPLETED else task.progress,
        )
        if to.terminal:
            task = dataclasses.replace(
                task, finished_at=now, lease_owner=None, lease_expires_at=None
            )
            task = self._close_reservation(task, change.settle_seconds, now)
        self._tasks[task_id] = task
        self._announce([self._append_event(task, now)])
        return task

    def _close_reservation(
        self, task: TaskRecord, settle_seconds: float | None, now: datetime
    ) -> TaskRecord:
        reserved = task.reserved_seconds
        settle = task.status is Status.COMPLETED
        used = settlement(task.price, reserved, settle_seconds) if settle else 0.0
        self._book(task, "settle" if settle else "refund", used if settle else reserved, now)
        key = self._keys[task.owner_id]
        self._keys[key.id] = dataclasses.replace(
            key,
            reserved_seconds=key.reserved_seconds - reserved,
            used_seconds=key.used_seconds + used,
        )
        billed = settle_seconds if settle else None
        return dataclasses.replace(task, cost=used, billed_seconds=billed)

    async def set_progress(self, task_id: str, worker: str, progress: int) -> bool:
        task = self._tasks.get(task_id)
        if not self._held(task, worker) or task is None or task.progress >= progress:
            return False
        now = utcnow()
        task = self._tasks[task_id] = dataclasses.replace(task, progress=progress, updated_at=now)
        self._announce([self._append_event(task, now)])
        return True

    async def delete_task(self, task_id: str, owner_id: str) -> TaskRecord | None:
        task = self._tasks.get(task_id)
        if task is None or task.owner_id != owner_id or not task.status.terminal:
            return None
        del self._tasks[task_id]
        self._events = [e for e in self._events if e.task_id != task_id]
        for delivery in [d for d in self._deliveries.values() if d.task_id == task_id]:
            del self._deliveries[delivery.id]
            self._delivery_leases.pop(delivery.id, None)
        return task

    async def results_to_purge(
        self, finished_before: datetime, limit: int = 100
    ) -> list[TaskRecord]:
        found = [
            t
            for t in self._tasks.values()
            if t.status is Status.COMPLETED
            and t.id not in self._purged
            and t.finished_at is not None
            and t.finished_at < finished_before
        ]
        return sorted(found, key=lambda t: t.finished_at or finished_before)[:limit]

    async def mark_results_purged(self, task_id: str) -> None:
        self._purged.add(task_id)

    # leases

    @staticmethod
    def _held(task: TaskRecord | None, worker: str) -> bool:
        return task is not None and task.status is Status.PROCESSING and task.lease_owner == worker

    async def claim(
        self, provider: str, worker: str, lease: timedelta, limit: int, max_attempts: int
    ) -> list[TaskRecord]:
        now = utcnow()

        def orphaned(task: TaskRecord) -> bool:
            return (
                task.status is Status.PROCESSING
                and task.upstream_id is None
                and task.lease_expires_at is not None
                and task.lease_expires_at < now
                and task.attempts < max_attempts
            )

        def runnable(task: TaskRecord) -> bool:
            return task.provider == provider and (task.status is Status.QUEUED or orphaned(task))

        holding = [
            t for t in self._tasks.values() if t.status is Status.PROCESSING and not orphaned(t)
        ]
        here = Counter(t.owner_id for t in holding if t.provider == provider)
        anywhere = Counter(t.owner_id for t in holding)
        caps = {key.id: key.max_in_flight for key in self._keys.values()}

        claimed: list[TaskRecord] = []
        events: list[Event] = []
        waiting = filter(runnable, self._tasks.values())
        for task in fair_turns(waiting, here, anywhere, caps, limit):
            was_queued = task.status is Status.QUEUED
            task = self._tasks[task.id] = dataclasses.replace(
                task,
                status=Status.PROCESSING,
                lease_owner=worker,
                lease_expires_at=now + lease,
                attempts=task.attempts + 1,
                started_at=task.started_at or now,
                updated_at=now,
            )
            if was_queued:
                events.append(self._append_event(task, now))
            claimed.append(task)
        self._announce(events)
        return claimed

    def _update_held(self, task_id: str, worker: str, **changes: Any) -> bool:
        task = self._tasks.get(task_id)
        if not self._held(task, worker) or task is None:
            return False
        self._tasks[task_id] = dataclasses.replace(task, **changes)
        return True

    async def renew(self, task_id: str, worker: str, lease: timedelta) -> bool:
        return self._update_held(task_id, worker, lease_expires_at=utcnow() + lease)

    async def release(self, task_id: str, worker: str) -> bool:
        task = self._tasks.get(task_id)
        if task is None or not self._held(task, worker) or task.upstream_id is not None:
            return False
        now = utcnow()
        task = self._tasks[task_id] = dataclasses.replace(
            task,
            status=Status.QUEUED,
            lease_owner=None,
            lease_expires_at=None,
            attempts=max(0, task.attempts - 1),
            progress=0,
            updated_at=now,
        )
        self._announce([self._append_event(task, now)])
        return True

    async def in_flight(self, provider: str) -> int:
        return sum(
            1
            for t in self._tasks.values()
            if t.provider == provider and t.status is Status.PROCESSING
        )

    async def running_upstream(self, provider: str) -> list[UpstreamTaskRef]:
        return [
            UpstreamTaskRef(
                t.id,
                t.upstream_id,
                t.credential,
                t.started_at or t.created_at,
                t.next_poll_at,
                t.upstream_status is not None,
            )
            for t in self._tasks.values()
            if t.provider == provider
            and t.status is Status.PROCESSING
            and t.upstream_id is not None
            and t.credential is not None
        ]

    async def record_upstream(
        self, task_id: str, worker: str, accepted: UpstreamAcceptance
    ) -> bool:
        now = utcnow()
        return self._update_held(
            task_id,
            worker,
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

    async def claim_polls(
        self, providers: Collection[str], worker: str, lease: timedelta, limit: int
    ) -> list[TaskRecord]:
        now = utcnow()
        due = sorted(
            (
                t
                for t in self._tasks.values()
                if t.status is Status.PROCESSING
                and t.provider in providers
                and t.upstream_id is not None
                and t.next_poll_at is not None
                and t.next_poll_at <= now
                and (t.lease_owner is None or (t.lease_expires_at or now) < now)
            ),
            key=lambda t: t.next_poll_at or now,
        )[:limit]
        claimed = []
        for task in due:
            task = self._tasks[task.id] = dataclasses.replace(
                task, lease_owner=worker, lease_expires_at=now + lease
            )
            claimed.append(task)
        return claimed

    async def reschedule(
        self,
        task_id: str,
        worker: str,
        *,
        next_poll_at: datetime,
        upstream_status: str | None,
        failed_poll: bool,
    ) -> bool:
        task = self._tasks.get(task_id)
        if task is None:
            return False
        return self._update_held(
            task_id,
            worker,
            next_poll_at=next_poll_at,
            poll_failures=task.poll_failures + 1 if failed_poll else 0,
            lease_owner=None,
            lease_expires_at=None,
            upstream_status=upstream_status
            if upstream_status is not None
            else task.upstream_status,
        )

    async def expedite_poll(self, task_id: str, at: datetime) -> bool:
        task = self._tasks.get(task_id)
        if (
            task is None
            or task.status is not Status.PROCESSING
            or task.upstream_id is None
            or (task.next_poll_at is not None and task.next_poll_at <= at)
        ):
            return False
        self._tasks[task_id] = dataclasses.replace(task, next_poll_at=at)
        return True

    async def overdue(self, deadline: datetime, limit: int = 100) -> list[TaskRecord]:
        return [
            t for t in self._tasks.values() if not t.status.terminal and t.created_at < deadline
        ][:limit]

    async def exhausted(self, max_attempts: int, limit: int = 100) -> list[TaskRecord]:
        now = utcnow()
        return [
            t
            for t in self._tasks.values()
            if t.status is Status.PROCESSING
            and t.upstream_id is None
            and t.lease_expires_at is not None
            and t.lease_expires_at < now
            and t.attempts >= max_attempts
        ][:limit]

    # events and deliveries

    def _append_event(self, task: TaskRecord, now: datetime) -> Event:
        kind = event_type(task.status, task.progress)
        event = Event(
            next(self._ids),
            task.id,
            task.owner_id,
            kind,
            task.status,
            task.progress,
            now,
            task.state,
        )
        self._events.append(event)
        if task.callback_url and wants_delivery(task.request.webhook_events, kind):
            delivery_id = f"msg_{task.id.replace('-', '')[:20]}{event.id}"
            self._deliveries[delivery_id] = Delivery(
                delivery_id, event, task.callback_url, "pending", 0, now, now
            )
        return event

    def _announce(self, events: list[Event]) -> None:
        for event in events:
            for listener in self.listeners:
                listener(event)

    def _events_where(self, keep: Callable[[Event], bool], after: int, limit: int) -> list[Event]:
        return [e for e in self._events if e.id > after and keep(e)][:limit]

    async def events_after(
        self, owner_id: str, after: int, task_id: str | None = None, limit: int = 500
    ) -> list[Event]:
        return self._events_where(
            lambda e: e.owner_id == owner_id and (task_id is None or e.task_id == task_id),
            after,
            limit,
        )

    async def events_since(self, after: int, limit: int = 1000) -> list[Event]:
        return self._events_where(lambda e: True, after, limit)

    async def last_event_id(self) -> int:
        return self._events[-1].id if self._events else 0

    def listen_events(self) -> None:
        """None: one process holds the store, and its listeners hear of every event."""
        return None

    async def claim_deliveries(self, worker: str, lease: timedelta, limit: int) -> list[Delivery]:
        now = utcnow()

        def due(delivery: Delivery) -> bool:
            held = self._delivery_leases.get(delivery.id)
            return (
                delivery.status == "pending"
                and delivery.next_attempt_at <= now
                and (held is None or held[1] < now)
            )

        found = sorted(filter(due, self._deliveries.values()), key=lambda d: d.next_attempt_at)
        for delivery in found[:limit]:
            self._delivery_leases[delivery.id] = (worker, now + lease)
        return found[:limit]

    async def record_attempts(
        self, worker: str, reports: Sequence[tuple[str, AttemptReport]]
    ) -> None:
        for delivery_id, report in reports:
            await self.record_attempt(delivery_id, worker, report)

    async def record_attempt(self, delivery_id: str, worker: str, report: AttemptReport) -> None:
        held = self._delivery_leases.get(delivery_id)
        delivery = self._deliveries.get(delivery_id)
        if held is None or held[0] != worker or delivery is None:
            return
        del self._delivery_leases[delivery_id]
        now = utcnow()
        attempt = DeliveryAttempt(now, report.status_code, report.error, report.duration_ms)
        self._deliveries[delivery_id] = dataclasses.replace(
            delivery,
            status=report.outcome,
            attempts=delivery.attempts + 1,
            next_attempt_at=report.next_attempt_at or delivery.next_attempt_at,
            delivered_at=now if report.outcome == "delivered" else delivery.delivered_at,
            history=(*delivery.history, attempt),
        )

    async def deliveries_for(self, task_id: str) -> list[Delivery]:
        return sorted(
            (d for d in self._deliveries.values() if d.task_id == task_id),
            key=lambda d: d.event.id,
        )

    async def redeliver(self, task_id: str, delivery_id: str) -> bool:
        delivery = self._deliveries.get(delivery_id)
        if delivery is None or delivery.task_id != task_id:
            return False
        now = utcnow()
        self._deliveries[delivery_id] = dataclasses.replace(
            delivery, status="pending", next_attempt_at=now, created_at=now
        )
        return True

    # files

    async def insert_file(self, file: FileRecord) -> None:
        if file.id in self._files:
            raise ValueError(f"file {file.id} exists")
        self._files[file.id] = file

    async def file(self, file_id: str) -> FileRecord | None:
        return self._files.get(file_id)

    # cluster

    async def cluster_record(self) -> ClusterRecord | None:
        return self._cluster

    async def settle_cluster(self, record: ClusterRecord) -> ClusterRecord:
        if self._cluster is None:
            self._cluster = record
        return self._cluster

    async def adopt_public_url(self, url: str) -> str:
        assert self._cluster is not None
        if self._cluster.public_url is None:
            self._cluster = dataclasses.replace(self._cluster, public_url=url)
        return self._cluster.public_url or url
