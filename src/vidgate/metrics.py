"""Prometheus metrics: what each process counts, and the calls that count it.

Every process (a gateway, a worker) counts what it does itself in prometheus-client's default
registry; nothing is shared between processes, so a deployment scrapes each one (see
docs/operations.md). Labels are bounded sets (providers, models, statuses, route templates);
never a key id or a task id. `server/metrics_http.py` serves them and counts HTTP responses.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from vidgate.clock import utcnow
from vidgate.models import Status

if TYPE_CHECKING:
    from vidgate.records import AttemptReport, Delivery, TaskRecord

__all__ = [
    "HttpCounts",
    "count_http",
    "poll_spared",
    "task_claimed",
    "task_ended",
    "task_queued",
    "track_work",
    "upstream_request",
    "upstream_swept",
    "webhook_attempt",
]

disable_created_metrics()  # type: ignore[no-untyped-call]

TASK_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

TASKS = Counter(
    "vidgate_tasks",
    "Tasks queued and tasks ended, by provider, model and status (queued at submit).",
    ["provider", "model", "status"],
)
TASK_DURATION = Histogram(
    "vidgate_task_duration_seconds",
    "Seconds from submit to the end of tasks that ended, by provider and status.",
    ["provider", "status"],
    buckets=TASK_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "vidgate_queue_wait_seconds",
    "Seconds tasks waited from submit to their first claim by a worker.",
    ["provider"],
    buckets=TASK_BUCKETS,
)
UPSTREAM_REQUESTS = Counter(
    "vidgate_upstream_requests",
    "Calls to upstream APIs; outcome ok, throttled, transient, refused, invalid or error.",
    ["provider", "outcome"],
)
UPSTREAM_DURATION = Histogram(
    "vidgate_upstream_request_duration_seconds",
    "Seconds each call to an upstream API took, answer read.",
    ["provider"],
    buckets=CALL_BUCKETS,
)
UPSTREAM_SWEEPS = Counter(
    "vidgate_upstream_sweeps",
    "Sweeps of upstream task listings; outcome listed, unneeded or failed.",
    ["provider", "outcome"],
)
POLLS_SPARED = Counter(
    "vidgate_upstream_polls_spared",
    "Due polls of upstream tasks that a sweep of the listing had already answered.",
    ["provider"],
)
WEBHOOK_DELIVERIES = Counter(
    "vidgate_webhook_deliveries",
    "Webhook delivery attempts; outcome delivered, retrying, failed (given up) or deferred.",
    ["outcome"],
)
WEBHOOK_LAG = Histogram(
    "vidgate_webhook_lag_seconds",
    "Seconds from an event to the delivery of its webhook.",
    buckets=TASK_BUCKETS,
)
LEDGER_CREDITS = Counter(
    "vidgate_ledger_credits",
    "Seconds of video quota moved in the ledger: reserve at submit, settle or refund at the end.",
    ["phase"],
)


def task_queued(task: TaskRecord) -> None:
    """A new task was stored, its quota reserved."""
    TASKS.labels(task.provider, task.model, Status.QUEUED.value).inc()
    LEDGER_CREDITS.labels("reserve").inc(task.reserved_seconds)


def task_claimed(task: TaskRecord) -> None:
    """A worker claimed a task; its first claim ends its wait in the queue."""
    if task.attempts == 1 and task.started_at is not None:
        waited = (task.started_at - task.created_at).total_seconds()
        QUEUE_WAIT.labels(task.provider).observe(max(0.0, waited))


def task_ended(task: TaskRecord) -> None:
    """A task reached a terminal status (this process won the compare-and-set)."""
    status = task.status.value
    TASKS.labels(task.provider, task.model, status).inc()
    ended = task.finished_at or utcnow()
    TASK_DURATION.labels(task.provider, status).observe(
        max(0.0, (ended - task.created_at).total_seconds())
    )
    if task.status is Status.COMPLETED:
        settled = task.cost
        if settled is None:
            settled = task.usage.duration if task.usage is not None else task.reserved_seconds
        LEDGER_CREDITS.labels("settle").inc(settled)
    else:
        LEDGER_CREDITS.labels("refund").inc(task.reserved_seconds)


@contextmanager
def upstream_request(provider: str) -> Iterator[None]:
    """Time one call to an upstream; an error's `kind` (throttled, ...) is its outcome."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except Exception as exc:
        outcome = str(getattr(exc, "kind", "error"))
        raise
    finally:
        UPSTREAM_DURATION.labels(provider).observe(time.perf_counter() - started)
        UPSTREAM_REQUESTS.labels(provider, outcome).inc()


def upstream_swept(provider: str, outcome: str) -> None:
    """One sweep of a provider's listing: `listed`, `unneeded` (polling costs fewer calls) or
    `failed`."""
    UPSTREAM_SWEEPS.labels(provider, outcome).inc()


def poll_spared(provider: str) -> None:
    """A due poll was answered by the latest sweep, and no call was made."""
    POLLS_SPARED.labels(provider).inc()


def webhook_attempt(delivery: Delivery, report: AttemptReport) -> None:
    """How one turn of a delivery went; a delivered one also records its lag."""
    if report.outcome == "delivered":
        outcome = "delivered"
        lag = (utcnow() - delivery.event.created_at).total_seconds()
        WEBHOOK_LAG.observe(max(0.0, lag))
    elif report.outcome == "failed":
        outcome = "failed"
    elif report.error is not None and report.error.startswith(("postponed:", "skipped:")):
        outcome = "deferred"
    else:
        outcome = "retrying"
    WEBHOOK_DELIVERIES.labels(outcome).inc()


class WorkInHand(Protocol):
    def work_in_hand(self) -> dict[tuple[str, str], int]:
        """Tasks held now, by (provider, state)."""
        ...


class _InFlight(Collector):
    """`vidgate_tasks_in_flight`: the work the engines of this process hold, read at scrape."""

    def __init__(self) -> None:
        self.engines: weakref.WeakSet[WorkInHand] = weakref.WeakSet()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "vidgate_tasks_in_flight",
            "Tasks this process works on now: rendering, submitting or polling, by provider.",
            labels=["provider", "state"],
        )
        totals: dict[tuple[str, str], int] = {}
        for engine in list(self.engines):
            for labels, count in engine.work_in_hand().items():
                totals[labels] = totals.get(labels, 0) + count
        for (provider, state), count in sorted(totals.items()):
            family.add_metric([provider, state], count)
        yield family


IN_FLIGHT = _InFlight()
REGISTRY.register(IN_FLIGHT)


class HttpCounts(Protocol):
    counts: dict[tuple[str, str, int], int]
    """Responses by (method, route template, status code), kept by one app on its loop."""


class _HttpRequests(Collector):
    """`vidgate_http_requests_total`: the plain counts each app keeps (on its own event loop,
    so without a lock on the hot path), added up at scrape."""

    def __init__(self) -> None:
        self.apps: weakref.WeakSet[HttpCounts] = weakref.WeakSet()

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(
            "vidgate_http_requests",
            "HTTP responses, by method, route template and status code.",
            labels=["method", "route", "code"],
        )
        totals: dict[tuple[str, str, int], int] = {}
        for app in list(self.apps):
            for key, count in list(app.counts.items()):
                totals[key] = totals.get(key, 0) + count
        for (method, route, code), count in sorted(totals.items()):
            family.add_metric([method, route, str(code)], count)
        yield family


HTTP_REQUESTS = _HttpRequests()
REGISTRY.register(HTTP_REQUESTS)


def count_http(app: HttpCounts) -> None:
    """Report ``app``'s response counts as `vidgate_http_requests_total` while it lives."""
    HTTP_REQUESTS.apps.add(app)


def track_work(engine: WorkInHand) -> None:
    """Report ``engine``'s work in hand as `vidgate_tasks_in_flight` while it lives."""
    IN_FLIGHT.engines.add(engine)
