"""Accounting under any order of price changes, limit changes, submits, claims, completions
with reported usage that differs from the reservation, cancels, failures, top-ups,
revocations and restarts, for two keys.

Afterwards, and at every step, each key's balance is its quota minus the sum over its tasks
(the cost of each ended task, the reservation of each open one), every task is charged at
the price it was accepted at, no task is closed twice, and no key runs more tasks than its
``max_in_flight``. A hypothesis state machine drives `MemoryStore` and `SqlStore` on SQLite
through the store API alone.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
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
from vidgate.pricing import UNIT_PRICE, Price
from vidgate.records import KeyChange, NewTask, TaskQuery, Transition
from vidgate.service.keys import create_key
from vidgate.store import MemoryStore, QuotaShort, SqlStore, Store, SubmitRateLimited

T = TypeVar("T")
QUOTA = 40.0
MAX_ATTEMPTS = 3
HELD = timedelta(minutes=10)
ACTIVE = (Status.QUEUED, Status.PROCESSING)
ERROR = TaskError(code="failed", message="failed")
PRICES = [UNIT_PRICE, Price(per_second=2.0), Price(per_second=0.5, per_task=1.0)]
KEYS = ("a", "b")


def shape(duration: int) -> Shape:
    return Shape(width=832, height=480, fps=24, duration=duration, resolution="480P", ratio="16:9")


class Accounting(RuleBasedStateMachine):
    """Two keys, a price list in force, a clock, and what the model expects of the ledger."""

    backend = "memory"
    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = tempfile.TemporaryDirectory()
        self.url = f"sqlite:///{Path(self.dir.name) / 'accounting.db'}"
        self.memory = MemoryStore()
        self.store = self.run(self._open())
        self.keys = {name: self.run(create_key(self.store, name, QUOTA)).key_id for name in KEYS}
        self.quota = dict.fromkeys(KEYS, QUOTA)
        self.revoked: set[str] = set()
        self.caps: dict[str, int | None] = {"a": None, "b": 1}
        self.run(self.store.set_key_limits(self.keys["b"], 1, None))
        self.rates: dict[str, int | None] = dict.fromkeys(KEYS)
        self.submits: dict[str, list[float]] = {name: [] for name in KEYS}
        self.price = UNIT_PRICE
        self.clock = 0.0
        self.start = utcnow()
        self.generation = 0
        self.owner: dict[str, str] = {}
        self.accepted: dict[str, Price] = {}
        self.reserved: dict[str, float] = {}
        self.cost: dict[str, float] = {}

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    async def _open(self) -> Store:
        store: Store = self.memory if self.backend == "memory" else SqlStore(self.url)
        await store.open()
        return store

    @property
    def worker(self) -> str:
        return f"worker-{self.generation}"

    def ended(self, task_id: str, cost: float) -> None:
        assert task_id not in self.cost, f"{task_id} was closed twice"
        self.cost[task_id] = cost

    def charged(self, name: str) -> float:
        """What the key's tasks take from its quota: costs of ended, reservations of open."""
        return sum(
            self.cost.get(task_id, self.reserved[task_id])
            for task_id, owner in self.owner.items()
            if owner == name
        )

    @rule(price=st.sampled_from(PRICES))
    def change_prices(self, price: Price) -> None:
        self.price = price

    @rule(
        name=st.sampled_from(KEYS),
        cap=st.sampled_from([None, 1, 2]),
        rate=st.sampled_from([None, 1, 3]),
    )
    def set_limits(self, name: str, cap: int | None, rate: int | None) -> None:
        self.run(self.store.set_key_limits(self.keys[name], cap, rate))
        self.caps[name], self.rates[name] = cap, rate

    @rule(seconds=st.sampled_from([1.0, 30.0, 61.0]))
    def wait(self, seconds: float) -> None:
        self.clock += seconds

    @rule(target=tasks, name=st.sampled_from(KEYS), duration=st.sampled_from([2, 5, 10]))
    def submit(self, name: str, duration: int) -> str:
        if name in self.revoked:
            return "refused"
        cost = self.price.cost(duration)
        short = self.quota[name] - self.charged(name) < cost
        recent = [at for at in self.submits[name] if at > self.clock - 60]
        limited = self.rates[name] is not None and len(recent) >= (self.rates[name] or 0)
        task = NewTask(
            id=new_task_id(),
            owner_id=self.keys[name],
            model="wan2.6-t2v",
            mode=Mode.T2V,
            provider="other" if duration == 10 else "local",
            request=VideoRequest(prompt="a boat", model="wan2.6-t2v", mode=Mode.T2V),
            shape=shape(duration),
            seed=7,
            inputs=(),
            reserved_seconds=cost,
            created_at=self.start + timedelta(seconds=self.clock),
            price=self.price,
        )
        try:
            stored, created = self.run(self.store.insert_task(task))
        except QuotaShort:
            assert short
            return "refused"
        except SubmitRateLimited as exc:
            assert limited and not short and 0 < exc.retry_after <= 60
            return "refused"
        assert created and not short and not limited
        assert stored.price == self.price and stored.reserved_seconds == cost
        self.submits[name].append(self.clock)
        self.owner[stored.id] = name
        self.accepted[stored.id] = self.price
        self.reserved[stored.id] = cost
        return stored.id

    @rule(name=st.sampled_from(KEYS))
    def submit_a_burst(self, name: str) -> None:
        for _ in range(3):
            self.submit(name, 2)

    @rule(provider=st.sampled_from(["local", "other"]), limit=st.sampled_from([1, 3]))
    def claim(self, provider: str, limit: int) -> None:
        claimed = self.run(self.store.claim(provider, self.worker, HELD, limit, MAX_ATTEMPTS))
        owners = {self.owner[task.id] for task in claimed}
        running = self._running()
        for name in owners:
            cap = self.caps[name]
            assert cap is None or running[name] <= cap, f"{name} runs over its limit"

    @rule(
        name=st.sampled_from(KEYS),
        duration=st.sampled_from([2, 5]),
        usage=st.sampled_from([None, 0.0, 7.5]),
    )
    def submit_and_finish(self, name: str, duration: int, usage: float | None) -> None:
        """The common path, which random picks from the bundle rarely line up for."""
        self.submit(name, duration)
        claimed = self.run(self.store.claim("local", self.worker, HELD, 2, MAX_ATTEMPTS))
        for task in claimed:
            self.complete(task.id, usage)

    @rule(task_id=tasks, usage=st.sampled_from([None, 0.0, 2.0, 7.5, 12.0]))
    def complete(self, task_id: str, usage: float | None) -> None:
        if task_id == "refused":
            return
        change = Transition(expected=[Status.PROCESSING], to=Status.COMPLETED, settle_seconds=usage)
        done = self.run(self.store.transition(task_id, change))
        if done is not None:
            price = self.accepted[task_id]
            expected = (
                self.reserved[task_id]
                if usage is None
                else price.per_task + price.per_second * usage
            )
            assert done.cost == pytest.approx(expected) and done.billed_seconds == usage
            self.ended(task_id, expected)

    @rule(task_id=tasks, cancel=st.booleans())
    def end_unfinished(self, task_id: str, cancel: bool) -> None:
        if task_id == "refused":
            return
        to = Status.CANCELLED if cancel else Status.FAILED
        expected = [Status.QUEUED] if cancel else list(ACTIVE)
        change = Transition(expected=expected, to=to, error=ERROR)
        if (ended := self.run(self.store.transition(task_id, change))) is not None:
            assert ended.cost == 0
            self.ended(task_id, 0.0)

    @rule(name=st.sampled_from(KEYS), seconds=st.sampled_from([5.0, 20.0]))
    def top_up(self, name: str, seconds: float) -> None:
        changed = self.run(
            self.store.change_key(self.keys[name], KeyChange(top_up_seconds=seconds))
        )
        assert (changed is None) == (name in self.revoked)
        if changed is not None:
            self.quota[name] += seconds

    @rule(name=st.sampled_from(KEYS))
    def revoke(self, name: str) -> None:
        change = KeyChange(revoked_at=utcnow())
        if self.run(self.store.change_key(self.keys[name], change)) is not None:
            self.revoked.add(name)

    @rule()
    def restart(self) -> None:
        """The process dies and comes back: a fresh store handle and a new worker id."""
        self.run(self.store.close())
        self.store = self.run(self._open())
        self.generation += 1

    def _running(self) -> Counter[str]:
        running: Counter[str] = Counter()
        for name, key_id in self.keys.items():
            query = TaskQuery(status=Status.PROCESSING)
            running[name] = self.run(self.store.count_tasks(key_id, query))
        return running

    @invariant()
    def every_balance_is_quota_minus_its_tasks(self) -> None:
        for name, key_id in self.keys.items():
            key = self.run(self.store.key_by_id(key_id))
            assert key is not None
            mine = {t for t, owner in self.owner.items() if owner == name}
            records = self.run(self.store.find_tasks(key_id, TaskQuery(), limit=1000))
            assert {record.id for record in records} == mine
            for record in records:
                assert record.price == self.accepted[record.id]
                assert (record.cost is not None) == (record.id in self.cost)
            assert key.balance == pytest.approx(self.quota[name] - self.charged(name))
            ledger = self.run(self.store.ledger_for(key_id))
            closes = Counter(entry.task_id for entry in ledger if entry.phase == "close")
            assert all(count == 1 for count in closes.values()), "a task was charged twice"
            assert set(closes) == mine & set(self.cost)
            settled = sum(entry.seconds for entry in ledger if entry.kind == "settle")
            assert key.used_seconds == pytest.approx(settled)
            assert key.used_seconds == pytest.approx(
                sum(self.cost[t] for t in mine & set(self.cost))
            )

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        self.dir.cleanup()


class SqliteAccounting(Accounting):
    backend = "sqlite"


def runs(examples: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


TestMemoryAccounting = Accounting.TestCase
TestMemoryAccounting.settings = runs(30)
TestSqliteAccounting = SqliteAccounting.TestCase
TestSqliteAccounting.settings = runs(5)
