"""The typed records the store hands out: keys, tasks, events, deliveries, files and the ledger.

Records are frozen. A change to stored state goes through the store, which hands back a new
record; nothing outside the store sees a database row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vidgate.catalog import Shape
from vidgate.models import Mode, Status, TaskError, Usage, VideoRequest
from vidgate.pricing import UNIT_PRICE, Price

__all__ = [
    "AttemptReport",
    "AuditEntry",
    "ClusterRecord",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryOutcome",
    "Event",
    "EventNotice",
    "FileRecord",
    "KeyChange",
    "KeyRecord",
    "LedgerEntry",
    "MediaKind",
    "NewTask",
    "ProviderHealth",
    "StoredInput",
    "StoredResult",
    "TaskFilter",
    "TaskQuery",
    "TaskRecord",
    "TaskState",
    "Transition",
    "UpstreamAcceptance",
    "UpstreamTaskRef",
]

MediaKind = Literal["image", "video"]
DeliveryOutcome = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True)
class KeyRecord:
    """An API key: its hash (never the key), its quota in seconds of video, and its use."""

    id: str
    name: str
    key_hash: str
    prefix: str
    quota_seconds: float | None
    reserved_seconds: float
    used_seconds: float
    created_at: datetime
    revoked_at: datetime | None = None
    webhook_secret: str | None = None
    admin: bool = False
    """An admin key may call the admin API (`/admin/v1`)."""
    max_in_flight: int | None = None
    """Tasks of this key that may run at once; the rest wait queued. None: no limit."""
    max_submits_per_minute: int | None = None
    """Submits accepted in any 60 s; more are answered 429. None: no limit."""

    @property
    def balance(self) -> float | None:
        """Seconds left to reserve; None for an unlimited key."""
        if self.quota_seconds is None:
            return None
        return self.quota_seconds - self.used_seconds - self.reserved_seconds


@dataclass(frozen=True)
class KeyChange:
    """What an admin changes about a key; fields left at None stay as they are."""

    name: str | None = None
    quota_seconds: float | None = None
    unlimited: bool = False
    """Make the quota unlimited (``quota_seconds`` must then be None)."""
    top_up_seconds: float | None = None
    """Seconds added to the quota, in the database, so concurrent top-ups all count."""
    key_hash: str | None = None
    """A rotation: the new secret's hash, and ``prefix`` its first characters."""
    prefix: str | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class StoredInput:
    """One input of a request, kept as a blob: which field it came from and what it is."""

    field: str
    blob: str
    kind: MediaKind
    duration: float = 0.0


@dataclass(frozen=True)
class StoredResult:
    """A finished task's video in the blob store, and the facts read from it."""

    blob: str
    duration: float
    width: int
    height: int
    fps: int
    bytes: int
    source_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskState:
    """What changes over a task's life: the part of a task that each event captures."""

    status: Status
    progress: int
    provider: str
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: TaskError | None = None
    result: StoredResult | None = None
    usage: Usage | None = None


@dataclass(frozen=True, kw_only=True)
class NewTask:
    """A validated request, ready to be queued with its quota reserved."""

    id: str
    owner_id: str
    model: str
    mode: Mode
    provider: str
    request: VideoRequest
    shape: Shape
    seed: int
    inputs: tuple[StoredInput, ...]
    reserved_seconds: float
    created_at: datetime
    callback_url: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    price: Price = UNIT_PRICE
    """The price the task was accepted at; ``reserved_seconds`` holds its credits."""


@dataclass(frozen=True, kw_only=True)
class TaskRecord(TaskState, NewTask):
    """A stored task: the request as resolved at submit (``NewTask``), its state now
    (``TaskState``), and who runs it."""

    attempts: int = 0
    upstream_id: str | None = None
    upstream_status: str | None = None
    credential: str | None = None
    next_poll_at: datetime | None = None
    poll_failures: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    billed_seconds: float | None = None
    """The seconds the provider reported at completion, which the cost was settled on."""
    cost: float | None = None
    """Credits charged once the task ended: its settlement, or 0 when refunded."""

    @classmethod
    def queued(cls, task: NewTask) -> TaskRecord:
        """A new task as it is stored: queued, at 0%, never attempted."""
        submitted = {f.name: getattr(task, f.name) for f in dataclasses.fields(NewTask)}
        return cls(**submitted, status=Status.QUEUED, progress=0, updated_at=task.created_at)

    def inputs_of(self, field: str) -> list[StoredInput]:
        """The stored inputs that came from one request field, in request order."""
        return [item for item in self.inputs if item.field == field]

    @property
    def state(self) -> TaskState:
        return TaskState(**{f.name: getattr(self, f.name) for f in _STATE})

    def at(self, state: TaskState) -> TaskRecord:
        """This task as it was when it was in ``state``."""
        return dataclasses.replace(self, **{f.name: getattr(state, f.name) for f in _STATE})


_STATE = dataclasses.fields(TaskState)


@dataclass(frozen=True)
class Transition:
    """A compare-and-set of a task's status, with what the new status brings.

    It applies only while the task is in one of ``expected`` (and, where given, belongs to
    ``owner_id`` or is leased to ``worker``).
    """

    expected: Collection[Status]
    to: Status
    owner_id: str | None = None
    worker: str | None = None
    error: TaskError | None = None
    result: StoredResult | None = None
    usage: Usage | None = None
    upstream_status: str | None = None
    settle_seconds: float | None = None
    """Seconds the provider reported, which a completion settles on at the task's price; the
    reservation when None."""


@dataclass(frozen=True)
class UpstreamAcceptance:
    """An upstream took a task: where it runs from now on, and when to look at it first."""

    provider: str
    upstream_id: str
    credential: str
    next_poll_at: datetime


@dataclass(frozen=True)
class UpstreamTaskRef:
    """A task running at an upstream, as a sweep of that upstream's listing needs it."""

    task_id: str
    upstream_id: str
    credential: str
    started_at: datetime
    """When the upstream accepted it."""
    next_poll_at: datetime | None
    polled: bool
    """Whether a poll (or a sweep in its place) has answered for it yet."""


@dataclass(frozen=True)
class TaskQuery:
    """Which of one owner's tasks to list, and in what order (ids sort by creation time)."""

    status: Status | None = None
    model: str | None = None
    provider: str | None = None
    task_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    after: str | None = None
    ascending: bool = False


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks of any key the admin API lists, newest first (``after``: a cursor id)."""

    owner_id: str | None = None
    status: Status | None = None
    model: str | None = None
    provider: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    after: str | None = None


@dataclass(frozen=True)
class ProviderHealth:
    """A provider's tasks as the store knows them: in flight now, and how the ones that ended
    since a moment went."""

    provider: str
    queued: int
    in_flight: int
    completed: int
    failed: int
    last_error: TaskError | None = None
    last_error_at: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One admin action: who did it, what to which target, when, and the target before and
    after (None where it did not exist, or does not change)."""

    id: int
    actor: str
    action: str
    target: str
    created_at: datetime
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None


@dataclass(frozen=True)
class Event:
    """One change of a task, in the outbox: ids rise in the order changes were committed."""

    id: int
    task_id: str
    owner_id: str
    type: str
    status: Status
    progress: int
    created_at: datetime
    state: TaskState | None = None
    """The task's state as this event left it; None for events stored before it was kept."""


@dataclass(frozen=True)
class EventNotice:
    """What waking the waiters of an event takes: the event's id and where it routes to."""

    id: int
    task_id: str
    owner_id: str
    status: Status
    provider: str | None = None
    """The task's provider, when the event says it; a new task wakes that provider's workers."""

    @classmethod
    def of(cls, event: Event) -> EventNotice:
        provider = event.state.provider if event.state is not None else None
        return cls(event.id, event.task_id, event.owner_id, event.status, provider)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One try at sending a webhook."""

    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class AttemptReport:
    """How one try at a webhook went, and what becomes of the delivery."""

    status_code: int | None
    error: str | None
    duration_ms: int
    outcome: DeliveryOutcome
    next_attempt_at: datetime | None = None
    """When to try again, for an outcome of ``pending``."""


@dataclass(frozen=True)
class Delivery:
    """A webhook to send for one event, with its attempts so far."""

    id: str
    event: Event
    url: str
    status: DeliveryOutcome
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    history: tuple[DeliveryAttempt, ...] = ()

    @property
    def task_id(self) -> str:
        return self.event.task_id

    @property
    def owner_id(self) -> str:
        return self.event.owner_id


@dataclass(frozen=True)
class FileRecord:
    """An uploaded file kept as a blob."""

    id: str
    owner_id: str | None
    purpose: str
    filename: str | None
    content_type: str
    bytes: int
    sha256: str
    created_at: datetime


@dataclass(frozen=True)
class LedgerEntry:
    """One movement of quota: a reserve at submit, then a settle or a refund at the end."""

    id: int
    key_id: str
    task_id: str
    kind: Literal["reserve", "settle", "refund"]
    phase: Literal["open", "close"]
    seconds: float
    created_at: datetime


@dataclass(frozen=True)
class ClusterRecord:
    """What the first node to start on a shared database recorded for the others to match:
    a fingerprint of its signing secret, the canary blob it wrote, and its public URL."""

    secret_fingerprint: str
    canary_blob: str
    canary_sha256: str
    public_url: str | None
    created_at: datetime
