"""The ledger under any order of submit, claim, cancel, complete, fail, release, restart and
retry: reservations always match the open tasks, and no task is settled or refunded twice.

A hypothesis state machine drives `MemoryStore` and `SqlStore` on SQLite through the store
API alone, as the contract suite does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from vidgate.catalog import Shape
from vidgate.clock import utcnow
from vidgate.ids import new_task_id
from vidgate.models import Mode, Status, TaskError, VideoRequest
from vidgate.records import NewTask, TaskQuery, Transition
from vidgate.service.keys import create_key
from vidgate.store import MemoryStore, QuotaShort, SqlStore, Store

T = TypeVar("T")
QUOTA = 60.0
MAX_ATTEMPTS = 3
SHAPE = Shape(width=832, height=480, fps=24, duration=5, resolution="480P", ratio="16:9")
LAPSED = timedelta(0)
"""A lease that has lapsed by the next call: the next claim retries the task."""
HELD = timedelta(minutes=10)
ACTIVE = (Status.QUEUED, Status.PROCESSING)
ERROR = TaskError(code="failed", message="failed")


def new_task(owner: str, seconds: float) -> NewTask:
    return NewTask(
        id=new_task_id(),
        owner_id=owner,
        model="wan2.6-t2v",
        mode=Mode.T2V,
        provider="local",
        request=VideoRequest(prompt="a boat", model="wan2.6-t2v", mode=Mode.T2V),
        shape=dataclasses.replace(SHAPE, duration=int(seconds)),
        seed=7,
        inputs=(),
        reserved_seconds=seconds,
        created_at=utcnow(),
    )


class Ledger(RuleBasedStateMachine):
    """One key with a quota, one store, and the settlements the model expects."""

    backend = "memory"
    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = tempfile.TemporaryDirectory()
        self.url = f"sqlite:///{Path(self.dir.name) / 'ledger.db'}"
        self.memory = MemoryStore()
        self.store = self.run(self._open())
        self.key = self.run(create_key(self.store, "k", QUOTA)).key_id
        self.generation = 0
        self.reserved: dict[str, float] = {}
        self.settled: dict[str, float] = {}
        self.ended: dict[str, Status] = {}

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    async def _open(self) -> Store:
        store: Store = self.memory if self.backend == "memory" else SqlStore(self.url)
        await store.open()
        return store

    @property
    def worker(self) -> str:
        return f"worker-{self.generation}"

    def ended_as(self, task_id: str, status: Status, settle: float | None = None) -> None:
        """Record a transition the store applied; a second ending of one task is a bug."""
        assert task_id not in self.ended, f"{task_id} ended twice"
        self.ended[task_id] = status
        if status is Status.COMPLETED:
            self.settled[task_id] = self.reserved[task_id] if settle is None else settle

    @rule(target=tasks, seconds=st.sampled_from([2.0, 5.0, 10.0, 15.0]))
    def submit(self, seconds: float) -> str:
        open_seconds = sum(s for t, s in self.reserved.items() if t not in self.ended)
        left = QUOTA - open_seconds - sum(self.settled.values())
        try:
            task, created = self.run(self.store.insert_task(new_task(self.key, seconds)))
        except QuotaShort:
            assert seconds > left
            return "refused"
        assert created and seconds <= left
        self.reserved[task.id] = seconds
        return task.id

    @rule(held=st.booleans())
    def claim(self, held: bool) -> None:
        lease = HELD if held else LAPSED
        self.run(self.store.claim("local", self.worker, lease, 2, MAX_ATTEMPTS))

    @rule(share=st.sampled_from([None, 0.0, 0.5, 1.0]))
    def claim_and_complete(self, share: float | None) -> None:
        """The common path, which random picks from the bundle rarely line up for."""
        claimed = self.run(self.store.claim("local", self.worker, HELD, 1, MAX_ATTEMPTS))
        for task in claimed:
            self._complete(task.id, share)

    @rule(task_id=tasks)
    def cancel(self, task_id: str) -> None:
        change = Transition(expected=[Status.QUEUED], to=Status.CANCELLED, owner_id=self.key)
        if self.run(self.store.transition(task_id, change)) is not None:
            self.ended_as(task_id, Status.CANCELLED)

    @rule(task_id=tasks, share=st.sampled_from([None, 0.0, 0.5, 1.0]))
    def complete(self, task_id: str, share: float | None) -> None:
        self._complete(task_id, share)

    def _complete(self, task_id: str, share: float | None) -> None:
        settle = None if share is None or task_id not in self.reserved else share
        if settle is not None:
            settle *= self.reserved[task_id]
        change = Transition(
            expected=[Status.PROCESSING],
            to=Status.COMPLETED,
            worker=self.worker,
            settle_seconds=settle,
        )
        if self.run(self.store.transition(task_id, change)) is not None:
            self.ended_as(task_id, Status.COMPLETED, settle)

    @rule(task_id=tasks, by_worker=st.booleans())
    def fail(self, task_id: str, by_worker: bool) -> None:
        expected = [Status.PROCESSING] if by_worker else list(ACTIVE)
        worker = self.worker if by_worker else None
        change = Transition(expected=expected, to=Status.FAILED, worker=worker, error=ERROR)
        if self.run(self.store.transition(task_id, change)) is not None:
            self.ended_as(task_id, Status.FAILED)

    @rule(task_id=tasks)
    def release(self, task_id: str) -> None:
        if task_id != "refused":
            self.run(self.store.release(task_id, self.worker))

    @rule()
    def give_up_exhausted(self) -> None:
        """The reaper: orphans started too often fail, as the engine fails them."""
        for task in self.run(self.store.exhausted(MAX_ATTEMPTS)):
            change = Transition(expected=[task.status], to=Status.FAILED, error=ERROR)
            if self.run(self.store.transition(task.id, change)) is not None:
                self.ended_as(task.id, Status.FAILED)

    @rule()
    def restart(self) -> None:
        """The process dies and comes back: a fresh store handle and a new worker id, whose
        predecessor's leases are orphans now."""
        self.run(self.store.close())
        self.store = self.run(self._open())
        self.generation += 1

    @invariant()
    def ledger_balances(self) -> None:
        key = self.run(self.store.key_by_id(self.key))
        assert key is not None
        records = self.run(self.store.find_tasks(self.key, TaskQuery(), limit=1000))
        statuses = {record.id: record.status for record in records}
        assert set(statuses) == set(self.reserved)
        for task_id, status in self.ended.items():
            assert statuses[task_id] is status, "a terminal status changed"
        open_seconds = sum(self.reserved[t] for t, s in statuses.items() if s in ACTIVE)
        assert key.reserved_seconds == pytest.approx(open_seconds)
        assert key.used_seconds == pytest.approx(sum(self.settled.values()))
        assert key.used_seconds + key.reserved_seconds <= QUOTA + 1e-9

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        self.dir.cleanup()


class SqliteLedger(Ledger):
    backend = "sqlite"


RUNS = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMemoryLedger = Ledger.TestCase
TestMemoryLedger.settings = RUNS
TestSqliteLedger = SqliteLedger.TestCase
TestSqliteLedger.settings = RUNS
