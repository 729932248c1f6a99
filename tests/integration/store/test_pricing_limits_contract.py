"""Prices, per-key limits and fair claims, as every backend keeps them: SQLite, PostgreSQL
and in memory."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from vidgate.catalog import Shape
from vidgate.clock import utcnow
from vidgate.ids import new_task_id
from vidgate.models import Mode, Status, TaskError, VideoRequest
from vidgate.pricing import UNIT_PRICE, Price
from vidgate.records import NewTask, TaskQuery, Transition
from vidgate.service.keys import create_key
from vidgate.store import Store, SubmitRateLimited

SHAPE = Shape(width=832, height=480, fps=24, duration=5, resolution="480P", ratio="16:9")
LEASE = timedelta(seconds=30)
ERROR = TaskError(code="failed", message="failed")


def new_task(owner: str, price: Price = UNIT_PRICE, **changes: Any) -> NewTask:
    task = NewTask(
        id=new_task_id(),
        owner_id=owner,
        model="wan2.6-t2v",
        mode=Mode.T2V,
        provider="local",
        request=VideoRequest(prompt="a boat", model="wan2.6-t2v", mode=Mode.T2V),
        shape=SHAPE,
        seed=7,
        inputs=(),
        reserved_seconds=price.cost(SHAPE.duration),
        created_at=utcnow(),
        price=price,
    )
    return dataclasses.replace(task, **changes)


def completion(reported: float | None) -> Transition:
    return Transition(expected=(Status.PROCESSING,), to=Status.COMPLETED, settle_seconds=reported)


async def test_a_completion_settles_the_reported_seconds_at_the_accepted_price(
    store: Store,
) -> None:
    key = await create_key(store, "k", 100)
    price = Price(per_second=2.0, per_task=1.5)
    task, _ = await store.insert_task(new_task(key.key_id, price))
    assert task.reserved_seconds == 11.5 and task.price == price
    assert (await store.task(task.id)) == task
    await store.claim("local", "w", LEASE, 1, 3)
    done = await store.transition(task.id, completion(8.0))
    assert done is not None and done.cost == 17.5 and done.billed_seconds == 8.0
    again = await store.task(task.id)
    assert again is not None and again.cost == 17.5 and again.billed_seconds == 8.0
    found = await store.key_by_id(key.key_id)
    assert found is not None and found.used_seconds == 17.5 and found.reserved_seconds == 0
    ledger = await store.ledger_for(key.key_id)
    assert [(e.kind, e.seconds) for e in ledger] == [("reserve", 11.5), ("settle", 17.5)]


async def test_a_refund_costs_nothing_and_a_silent_completion_costs_the_reservation(
    store: Store,
) -> None:
    key = await create_key(store, "k", 100)
    price = Price(per_second=3.0)
    failed, _ = await store.insert_task(new_task(key.key_id, price))
    silent, _ = await store.insert_task(new_task(key.key_id, price))
    await store.claim("local", "w", LEASE, 2, 3)
    change = Transition(expected=(Status.PROCESSING,), to=Status.FAILED, error=ERROR)
    ended = await store.transition(failed.id, change)
    assert ended is not None and ended.cost == 0 and ended.billed_seconds is None
    done = await store.transition(silent.id, completion(None))
    assert done is not None and done.cost == 15.0
    found = await store.key_by_id(key.key_id)
    assert found is not None and found.used_seconds == 15.0 and found.balance == 85.0


async def test_the_submit_rate_limit_refuses_leaving_nothing_behind(store: Store) -> None:
    key = await create_key(store, "k", 100)
    limited = await store.set_key_limits(key.key_id, None, 2)
    assert limited is not None and limited.max_submits_per_minute == 2
    for _ in range(2):
        await store.insert_task(new_task(key.key_id))
    with pytest.raises(SubmitRateLimited) as refused:
        await store.insert_task(new_task(key.key_id))
    assert 0 < refused.value.retry_after <= 60
    found = await store.key_by_id(key.key_id)
    assert found is not None and found.reserved_seconds == 10
    assert await store.count_tasks(key.key_id, TaskQuery()) == 2
    assert len(await store.ledger_for(key.key_id)) == 2
    later = new_task(key.key_id, created_at=utcnow() + timedelta(seconds=61))
    assert (await store.insert_task(later))[1]


async def test_limits_read_back_and_an_unknown_key_has_none(store: Store) -> None:
    key = await create_key(store, "k", None)
    await store.set_key_limits(key.key_id, 3, 10)
    found = await store.key_by_id(key.key_id)
    assert found is not None and (found.max_in_flight, found.max_submits_per_minute) == (3, 10)
    cleared = await store.set_key_limits(key.key_id, None, None)
    assert cleared is not None and cleared.max_in_flight is None
    assert await store.set_key_limits("key_missing", 1, 1) is None


async def test_a_key_at_its_in_flight_limit_waits_queued(store: Store) -> None:
    key = await create_key(store, "k", None)
    await store.set_key_limits(key.key_id, 1, None)
    first, _ = await store.insert_task(new_task(key.key_id))
    second, _ = await store.insert_task(new_task(key.key_id))
    elsewhere, _ = await store.insert_task(new_task(key.key_id, provider="other"))
    assert [t.id for t in await store.claim("local", "w", LEASE, 5, 3)] == [first.id]
    assert await store.claim("local", "w", LEASE, 5, 3) == []
    assert await store.claim("other", "w", LEASE, 5, 3) == []
    queued = await store.task(second.id)
    assert queued is not None and queued.status is Status.QUEUED
    await store.transition(first.id, completion(5))
    assert [t.id for t in await store.claim("local", "w", LEASE, 5, 3)] == [second.id]
    assert (await store.task(elsewhere.id)).status is Status.QUEUED  # type: ignore[union-attr]


async def test_an_orphan_of_a_key_at_its_limit_is_still_reclaimed(store: Store) -> None:
    key = await create_key(store, "k", None)
    await store.set_key_limits(key.key_id, 1, None)
    task, _ = await store.insert_task(new_task(key.key_id))
    await store.claim("local", "w1", timedelta(seconds=-1), 1, 3)
    [again] = await store.claim("local", "w2", LEASE, 1, 3)
    assert again.id == task.id and again.attempts == 2


async def test_claims_take_turns_across_keys(store: Store) -> None:
    busy = await create_key(store, "busy", None)
    quiet = await create_key(store, "quiet", None)
    backlog = [(await store.insert_task(new_task(busy.key_id)))[0].id for _ in range(6)]
    single, _ = await store.insert_task(new_task(quiet.key_id))
    first = [t.id for t in await store.claim("local", "w", LEASE, 2, 3)]
    assert first == [backlog[0], single.id]
    second = [t.id for t in await store.claim("local", "w", LEASE, 2, 3)]
    assert second == backlog[1:3]
    late, _ = await store.insert_task(new_task(quiet.key_id))
    await store.transition(single.id, completion(5))
    # The busy key runs three here, the quiet one none: the quiet key's new task goes first.
    assert [t.id for t in await store.claim("local", "w", LEASE, 1, 3)] == [late.id]


async def test_racing_submits_count_each_other_against_the_rate(store: Store) -> None:
    key = await create_key(store, "k", None)
    await store.set_key_limits(key.key_id, None, 2)
    outcomes = await asyncio.gather(
        *(store.insert_task(new_task(key.key_id)) for _ in range(6)), return_exceptions=True
    )
    assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 2
    assert all(isinstance(o, SubmitRateLimited) for o in outcomes if isinstance(o, BaseException))
    assert await store.count_tasks(key.key_id, TaskQuery()) == 2
