"""Submits that arrive together, on every backend: each gets the answer it would have had
alone (accepted, short of quota, rate limited), and what is kept is exactly what was accepted.

The SQL store commits such submits in groups (`store/sql/submits.py`); these tests send them
at once, as a burst of HTTP submits arrives, and check the outcome a client and the books see.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

from stores import new_task
from vidgate.models import Mode, VideoRequest
from vidgate.records import Event, NewTask, TaskQuery, TaskRecord
from vidgate.service.keys import create_key
from vidgate.store import Store, SubmitRateLimited


async def submit_all(store: Store, tasks: list[NewTask]) -> list[TaskRecord | BaseException]:
    async def one(task: NewTask) -> TaskRecord:
        record, created = await store.insert_task(task)
        assert created
        return record

    return await asyncio.gather(*(one(task) for task in tasks), return_exceptions=True)


def accepted(outcomes: list[TaskRecord | BaseException]) -> list[TaskRecord]:
    return [outcome for outcome in outcomes if isinstance(outcome, TaskRecord)]


async def test_a_burst_on_one_key_stops_exactly_at_its_quota(store: Store) -> None:
    key = await create_key(store, "k", 100.0)
    tasks = [new_task(key.key_id, 5.0) for _ in range(40)]
    outcomes = await submit_all(store, tasks)
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"TaskRecord": 20, "QuotaShort": 20}
    account = await store.key_by_id(key.key_id)
    assert account is not None and account.reserved_seconds == 100.0
    kept = await store.find_tasks(key.key_id, TaskQuery(), limit=100)
    assert {task.id for task in kept} == {task.id for task in accepted(outcomes)}
    ledger = await store.ledger_for(key.key_id)
    assert sorted(entry.task_id for entry in ledger) == sorted(task.id for task in kept)
    assert all(entry.kind == "reserve" and entry.seconds == 5.0 for entry in ledger)


async def test_each_accepted_submit_has_one_queued_event_in_commit_order(store: Store) -> None:
    key = await create_key(store, "k", None)
    heard: list[Event] = []
    store.listeners.append(heard.append)
    outcomes = await submit_all(store, [new_task(key.key_id) for _ in range(25)])
    records = accepted(outcomes)
    assert len(records) == 25
    events = await store.events_after(key.key_id, 0)
    assert Counter(event.task_id for event in events) == {task.id: 1 for task in records}
    assert all(event.type == "task.queued" for event in events)
    ids = [event.id for event in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # What this process's waiters were told names each event's own task.
    assert sorted((e.id, e.task_id) for e in heard) == [(e.id, e.task_id) for e in events]
    for record in records:
        stored = await store.task(record.id, key.key_id)
        assert stored is not None and stored.status == record.status
        assert stored.reserved_seconds == record.reserved_seconds


async def test_a_rate_limited_key_in_a_burst_gets_exactly_its_limit(store: Store) -> None:
    limited = await create_key(store, "limited", None)
    await store.set_key_limits(limited.key_id, None, 5)
    free = await create_key(store, "free", None)
    tasks = [new_task(limited.key_id) for _ in range(12)] + [
        new_task(free.key_id) for _ in range(12)
    ]
    outcomes = await submit_all(store, tasks)
    mine, theirs = outcomes[:12], outcomes[12:]
    assert len(accepted(mine)) == 5
    refused = [outcome for outcome in mine if not isinstance(outcome, TaskRecord)]
    assert len(refused) == 7 and all(isinstance(o, SubmitRateLimited) for o in refused)
    assert len(accepted(theirs)) == 12
    account = await store.key_by_id(limited.key_id)
    assert account is not None and account.reserved_seconds == 25.0


async def test_keys_short_and_flush_in_one_burst_each_get_their_own_answer(store: Store) -> None:
    rich = await create_key(store, "rich", 1000.0)
    poor = await create_key(store, "poor", 10.0)
    tasks = [new_task(k.key_id) for _ in range(6) for k in (rich, poor)]
    outcomes = await submit_all(store, tasks)
    by_owner = Counter(
        (task.owner_id, type(outcome).__name__)
        for task, outcome in zip(tasks, outcomes, strict=True)
    )
    assert by_owner == {
        (rich.key_id, "TaskRecord"): 6,
        (poor.key_id, "TaskRecord"): 2,
        (poor.key_id, "QuotaShort"): 4,
    }
    for key, reserved in ((rich, 30.0), (poor, 10.0)):
        account = await store.key_by_id(key.key_id)
        assert account is not None and account.reserved_seconds == reserved


async def test_webhook_deliveries_are_kept_for_each_task_of_a_burst(store: Store) -> None:
    key = await create_key(store, "k", None)
    request = VideoRequest(
        prompt="a boat", model="wan2.6-t2v", mode=Mode.T2V, webhook_events=["task.queued"]
    )
    hooked = [
        new_task(key.key_id, request=request, callback_url="https://hooks.example/in")
        for _ in range(6)
    ]
    plain = [new_task(key.key_id) for _ in range(6)]
    await submit_all(store, hooked + plain)
    claimed = await store.claim_deliveries("d1", timedelta(seconds=30), 100)
    assert sorted(delivery.task_id for delivery in claimed) == sorted(task.id for task in hooked)


async def test_a_submit_cancelled_before_it_is_committed_leaves_nothing(
    store: Store, request: pytest.FixtureRequest
) -> None:
    if "memory" in request.node.callspec.id:
        pytest.skip("the memory store commits a submit before its caller can be cancelled")
    key = await create_key(store, "k", 100.0)
    waiting = asyncio.ensure_future(store.insert_task(new_task(key.key_id)))
    asyncio.get_running_loop().call_soon(waiting.cancel)  # it has asked; no group has begun
    with pytest.raises(asyncio.CancelledError):
        await waiting
    after, _ = await store.insert_task(new_task(key.key_id))
    kept = await store.find_tasks(key.key_id, TaskQuery(), limit=10)
    assert [task.id for task in kept] == [after.id]
    account = await store.key_by_id(key.key_id)
    assert account is not None and account.reserved_seconds == 5.0


async def test_two_processes_bursting_on_the_same_keys_lose_nothing(
    open_backend: Callable[[], Store],
) -> None:
    first, second = open_backend(), open_backend()
    await first.open()
    await second.open()
    try:
        keys = [await create_key(first, name, 300.0) for name in ("a", "b")]
        tasks = [new_task(keys[i % 2].key_id) for i in range(80)]
        outcomes = await asyncio.gather(
            submit_all(first, tasks[0::2] + tasks[3::4]),
            submit_all(second, tasks[1::4]),
        )
        records = [task for outcome in outcomes for task in accepted(outcome)]
        assert len(records) == 80
        for key in keys:
            account = await second.key_by_id(key.key_id)
            assert account is not None and account.reserved_seconds == 200.0
            events = await second.events_after(key.key_id, 0)
            assert len(events) == 40
    finally:
        await first.close()
        if second is not first:
            await second.close()


@pytest.mark.parametrize("turns", range(5))
async def test_a_submit_cancelled_at_any_moment_leaves_books_that_match_its_tasks(
    store: Store, turns: int
) -> None:
    key = await create_key(store, "k", 100.0)
    waiting = asyncio.ensure_future(store.insert_task(new_task(key.key_id)))
    for _ in range(turns):
        await asyncio.sleep(0)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await store.insert_task(new_task(key.key_id))
    kept = await store.find_tasks(key.key_id, TaskQuery(), limit=10)
    account = await store.key_by_id(key.key_id)
    assert account is not None and account.reserved_seconds == 5.0 * len(kept)
    events = await store.events_after(key.key_id, 0)
    assert sorted(event.task_id for event in events) == sorted(task.id for task in kept)
    ledger = await store.ledger_for(key.key_id)
    assert sorted(entry.task_id for entry in ledger) == sorted(task.id for task in kept)


async def test_the_record_a_submit_returns_is_the_one_stored(store: Store) -> None:
    key = await create_key(store, "k", None)
    request = VideoRequest(
        prompt="a boat at dusk",
        model="wan2.6-t2v",
        mode=Mode.T2V,
        seed=11,
        webhook_events=["task.completed"],
    )
    burst = [
        new_task(key.key_id, request=request, callback_url="https://hooks.example/in")
        for _ in range(5)
    ]
    alone, _ = await store.insert_task(
        new_task(key.key_id, request=request, idempotency_key="one", request_hash="h")
    )
    returned = [alone, *accepted(await submit_all(store, burst))]
    assert len(returned) == 6
    for record in returned:
        assert await store.task(record.id, key.key_id) == record
