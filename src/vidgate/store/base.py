"""The store interface, split by concern, and the compare-and-set contract every backend keeps.

The contract, for every implementation:
- A task's status only moves along ``queued -> processing -> completed | failed | cancelled``,
  and only through a compare-and-set on (id, expected statuses). Of writers racing on one
  task exactly one wins; the others get None. A terminal status never changes.
- Quota is reserved when a task is inserted, and closed exactly once, by the transition that
  ends the task: completion settles, failure and cancellation refund. The ledger balances.
- Every change a client can see (queued, claimed, progress, terminal) appends an event in the
  same transaction, carrying the task's state as that change left it. Event ids become
  visible in increasing order, so a follower that has read id n never later finds one below n.
- A lease belongs to one worker until it expires; writes that name a worker succeed only
  while that worker holds the lease.
- Listeners hear of each event after its transaction commits, never before.
  So do other processes' subscriptions (`listen_events`), where the backend has them.
- A finished task may be deleted for good, with its events and deliveries; the ledger keeps
  its quota movements.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol

from vidgate.errors import VidgateError
from vidgate.records import (
    AttemptReport,
    AuditEntry,
    ClusterRecord,
    Delivery,
    Event,
    EventNotice,
    FileRecord,
    KeyChange,
    KeyRecord,
    LedgerEntry,
    NewTask,
    ProviderHealth,
    TaskFilter,
    TaskQuery,
    TaskRecord,
    Transition,
    UpstreamAcceptance,
    UpstreamTaskRef,
)

__all__ = [
    "AdminStore",
    "ClusterStore",
    "EventNotices",
    "FileStore",
    "KeyStore",
    "LeaseStore",
    "Listener",
    "OutboxStore",
    "QuotaShort",
    "Store",
    "StoreFull",
    "StoreUnavailable",
    "SubmitRateLimited",
    "TaskStore",
]

Listener = Callable[[Event], None]
"""Called with each committed event, in the process that wrote it."""


class QuotaShort(VidgateError):
    """The key has too little quota left to reserve a task's seconds."""


class SubmitRateLimited(VidgateError):
    """The key has made as many submits in the last minute as it may; nothing was stored."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"submit rate limited; retry after {retry_after:.1f} s")
        self.retry_after = retry_after


class StoreUnavailable(VidgateError):
    """The database cannot be reached or dropped the connection; a later try may succeed.

    The SQL layer raises it in place of its driver's connection errors, so no module outside
    ``store/`` needs to know them. Nothing was committed unless the commit's answer was lost.
    """


class StoreFull(VidgateError):
    """The database refused a write because its disk is full."""


class KeyStore(Protocol):
    """API keys, their quota counters and their ledger."""

    async def insert_key(self, key: KeyRecord) -> None: ...

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        """The unrevoked key with this hash."""
        ...

    async def key_by_id(self, key_id: str) -> KeyRecord | None: ...

    async def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        ...

    async def ledger_for(self, key_id: str) -> list[LedgerEntry]:
        """The key's quota movements, oldest first."""
        ...

    async def set_webhook_secret(self, key_id: str, secret: str) -> str:
        """Give a key its webhook secret unless it has one; returns the secret in force."""
        ...

    async def set_key_limits(
        self, key_id: str, max_in_flight: int | None, max_submits_per_minute: int | None
    ) -> KeyRecord | None:
        """Set both of a key's limits (None: no limit); the key as it is now, or None when
        there is no such key. Tasks already queued wait under the new limit."""
        ...


class TaskStore(Protocol):
    """Tasks: insert with a reservation, read, list, and compare-and-set transitions."""

    async def insert_task(self, task: NewTask) -> tuple[TaskRecord, bool]:
        """Reserve quota and insert a queued task in one transaction.

        Returns the task and whether it is new: an existing task of the same owner and
        idempotency key is returned instead of a second one. Raises QuotaShort, leaving
        nothing behind, when the key cannot cover ``task.reserved_seconds``, and
        SubmitRateLimited when the key already made ``max_submits_per_minute`` submits in the
        60 s before ``task.created_at``.
        """
        ...

    async def task(self, task_id: str, owner_id: str | None = None) -> TaskRecord | None:
        """A task by id; with an owner, only that owner's task."""
        ...

    async def task_by_idempotency(self, owner_id: str, key: str) -> TaskRecord | None: ...

    async def task_version(self, task_id: str, owner_id: str) -> object | None:
        """A token of the owner's task as stored now, read as cheaply as the backend can;
        None when the owner has no such task. Two tokens are equal only if the task did
        not change between the reads, so a reader can tell a cached rendering is current."""
        ...

    async def find_tasks(
        self, owner_id: str, query: TaskQuery, *, limit: int, offset: int = 0
    ) -> list[TaskRecord]:
        """Up to ``limit`` of the owner's matching tasks after ``offset``; newest first
        unless ``query.ascending``; ``query.after`` is a cursor id in that order."""
        ...

    async def count_tasks(self, owner_id: str, query: TaskQuery) -> int:
        """How many of the owner's tasks match (``query.after`` included)."""
        ...

    async def transition(self, task_id: str, change: Transition) -> TaskRecord | None:
        """Compare-and-set a task's status; the winner alone settles or refunds its quota.

        Completion sets progress to 100 and settles ``change.settle_seconds``; failure and
        cancellation refund the reservation. Returns the updated task, or None when it was not
        in an expected status (or not the owner's or worker's). Raises ValueError when
        ``change.expected`` names a terminal status.
        """
        ...

    async def set_progress(self, task_id: str, worker: str, progress: int) -> bool:
        """Raise a running task's progress; False unless it rose and ``worker`` holds it."""
        ...

    async def delete_task(self, task_id: str, owner_id: str) -> TaskRecord | None:
        """Remove a finished task of the owner for good, with its events and webhook
        deliveries (the ledger keeps its quota movements); returns the task as it was. None,
        removing nothing, when the owner has no such task or it has not finished."""
        ...

    async def results_to_purge(
        self, finished_before: datetime, limit: int = 100
    ) -> list[TaskRecord]:
        """Completed tasks that finished before ``finished_before`` and whose result blobs
        have not been purged yet, oldest first."""
        ...

    async def mark_results_purged(self, task_id: str) -> None:
        """Record that a task's result blobs are deleted, so it is not offered again."""
        ...


class LeaseStore(Protocol):
    """Who runs what: claims, lease renewal, upstream polling schedules and the reaper's finds.

    Lease times come from the database's clock where it has one (PostgreSQL's ``now()``), so
    nodes whose clocks disagree still agree on when a lease lapses.
    """

    async def claim(
        self, provider: str, worker: str, lease: timedelta, limit: int, max_attempts: int
    ) -> list[TaskRecord]:
        """Lease up to ``limit`` runnable tasks of one provider: queued ones, and processing
        ones orphaned by a lapsed lease before an upstream accepted them.

        Fair across keys: each key's runnable tasks are ranked oldest first, and a task's turn
        is its rank plus the tasks its key already runs on this provider, so a key with one
        task goes ahead of another key's backlog; ties go to the older task. A key at its
        ``max_in_flight`` (counted over every provider) gets no more until one ends."""
        ...

    async def renew(self, task_id: str, worker: str, lease: timedelta) -> bool:
        """Extend a lease; False once the task is no longer this worker's to run."""
        ...

    async def release(self, task_id: str, worker: str) -> bool:
        """Hand a running task back to the queue, uncounted: status ``queued``, no lease, one
        attempt fewer. Only while ``worker`` holds it and no upstream has accepted it; False
        otherwise. Appends a ``task.queued`` event."""
        ...

    async def in_flight(self, provider: str) -> int:
        """Tasks a provider holds now: being submitted to it, or running there."""
        ...

    async def running_upstream(self, provider: str) -> list[UpstreamTaskRef]:
        """The tasks running at an upstream now (accepted there, not yet ended here)."""
        ...

    async def record_upstream(
        self, task_id: str, worker: str, accepted: UpstreamAcceptance
    ) -> bool:
        """Pin a task to the upstream task, provider and credential that accepted it, and
        release its lease until its first poll."""
        ...

    async def claim_polls(
        self, providers: Collection[str], worker: str, lease: timedelta, limit: int
    ) -> list[TaskRecord]:
        """Lease running upstream tasks whose next poll is due, most overdue first."""
        ...

    async def reschedule(
        self,
        task_id: str,
        worker: str,
        *,
        next_poll_at: datetime,
        upstream_status: str | None,
        failed_poll: bool,
    ) -> bool:
        """Release a polled task until its next poll, counting consecutive failed polls."""
        ...

    async def expedite_poll(self, task_id: str, at: datetime) -> bool:
        """Bring a running upstream task's next poll forward to ``at`` (an upstream called
        back); False when it is not such a task or its poll is due sooner already."""
        ...

    async def overdue(self, deadline: datetime, limit: int = 100) -> list[TaskRecord]:
        """Active tasks created before ``deadline``."""
        ...

    async def exhausted(self, max_attempts: int, limit: int = 100) -> list[TaskRecord]:
        """Orphaned tasks that have already been started ``max_attempts`` times."""
        ...


class EventNotices(Protocol):
    """An open subscription to committed events, in commit (and so id) order."""

    async def next(self, timeout: float) -> EventNotice | None:
        """The next notice; None when the table should be read instead: none came within
        ``timeout`` seconds, or one came that could not be read. Raises StoreUnavailable once
        the subscription's connection is lost (notices may have been missed)."""
        ...


class OutboxStore(Protocol):
    """Events (for waiters, streams and webhooks) and webhook deliveries."""

    async def events_after(
        self, owner_id: str, after: int, task_id: str | None = None, limit: int = 500
    ) -> list[Event]:
        """The owner's events with ids above ``after``, oldest first; one task's if given."""
        ...

    async def events_since(self, after: int, limit: int = 1000) -> list[Event]:
        """Every event with an id above ``after``, oldest first, whoever wrote it."""
        ...

    async def last_event_id(self) -> int: ...

    async def claim_deliveries(self, worker: str, lease: timedelta, limit: int) -> list[Delivery]:
        """Lease webhook deliveries that are due, most overdue first."""
        ...

    async def record_attempt(self, delivery_id: str, worker: str, report: AttemptReport) -> None:
        """Log one attempt and release the lease; only while ``worker`` holds it."""
        ...

    async def record_attempts(
        self, worker: str, reports: Sequence[tuple[str, AttemptReport]]
    ) -> None:
        """`record_attempt` for each (delivery id, report), in one transaction."""
        ...

    async def deliveries_for(self, task_id: str) -> list[Delivery]:
        """A task's deliveries with their attempts, in event order."""
        ...

    async def redeliver(self, task_id: str, delivery_id: str) -> bool:
        """Make one of the task's deliveries due now, with a fresh retry window; its attempts
        so far are kept. False when the task has no such delivery."""
        ...

    def listen_events(self) -> AbstractAsyncContextManager[EventNotices] | None:
        """Hear of every process's events as they commit (PostgreSQL's LISTEN, on a connection
        of its own); None where the backend announces nothing, so followers read the table."""
        ...


class FileStore(Protocol):
    """Uploaded files."""

    async def insert_file(self, file: FileRecord) -> None: ...

    async def file(self, file_id: str) -> FileRecord | None: ...


class ClusterStore(Protocol):
    """What every node sharing the database must agree on, recorded by the first to start."""

    async def cluster_record(self) -> ClusterRecord | None: ...

    async def settle_cluster(self, record: ClusterRecord) -> ClusterRecord:
        """Store ``record`` unless a record is stored; returns the record in force."""
        ...

    async def adopt_public_url(self, url: str) -> str:
        """Record ``url`` as the public URL unless one is recorded; returns the one in force.
        Only once a cluster record is stored."""
        ...


class AdminStore(Protocol):
    """What the admin API changes and reads across keys, and its audit log."""

    async def change_key(self, key_id: str, change: KeyChange) -> KeyRecord | None:
        """Apply ``change`` to an unrevoked key; the key as it is now, or None (changing
        nothing) when there is no such unrevoked key."""
        ...

    async def record_audit(
        self,
        actor: str,
        action: str,
        target: str,
        before: dict[str, object] | None,
        after: dict[str, object] | None,
    ) -> AuditEntry: ...

    async def audit_log(
        self, target: str | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Audit entries, newest first: of one target if given, with ids below ``before_id``."""
        ...

    async def last_audit_id(self) -> int:
        """The highest audit entry id (0 for none): it changes with every admin action, so a
        process that caches keys knows when to look again."""
        ...

    async def audited_task_version(self, task_id: str, owner_id: str) -> tuple[int, object] | None:
        """`last_audit_id` and the owner's `task_version` together, in one read where the
        backend can; None when the owner has no such task."""
        ...

    def change_stamp(self) -> int | None:
        """A number that stays the same while nobody writes to the store, where the backend
        can tell without reading a table; None where it cannot. Read it before the reads it
        vouches for: while it is unchanged, whatever those reads answered still holds."""
        ...

    async def tasks_of_any(self, query: TaskFilter, *, limit: int) -> list[TaskRecord]:
        """Up to ``limit`` matching tasks of every key, newest first."""
        ...

    async def provider_health(self, provider: str, since: datetime) -> ProviderHealth:
        """A provider's queued and in-flight tasks now, and the tasks that ended there since
        ``since``: how many completed and failed, and the last failure's error."""
        ...


class Store(
    KeyStore, TaskStore, LeaseStore, OutboxStore, FileStore, ClusterStore, AdminStore, Protocol
):
    """Everything vidgate keeps, behind one object per process."""

    listeners: list[Listener]

    async def open(self) -> None:
        """Make the store ready (for SQL, migrate); safe from several processes at once."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """A trivial round trip; raises StoreUnavailable when the database cannot answer."""
        ...
