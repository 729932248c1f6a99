"""Deleting a finished task on every backend: gone with its events and deliveries, the ledger
kept; an unfinished or foreign task is left as it is."""

from __future__ import annotations

from datetime import timedelta

from vidgate.catalog import Shape
from vidgate.clock import utcnow
from vidgate.ids import new_task_id
from vidgate.models import Mode, Status, VideoRequest
from vidgate.records import NewTask, TaskQuery, Transition
from vidgate.service.keys import create_key
from vidgate.store import Store

SHAPE = Shape(width=832, height=480, fps=24, duration=5, resolution="480P", ratio="16:9")
LEASE = timedelta(seconds=30)


async def queued(store: Store, owner: str) -> str:
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
        reserved_seconds=5.0,
        created_at=utcnow(),
        callback_url="https://hooks.example/in",
    )
    await store.insert_task(task)
    return task.id


async def test_a_finished_task_is_deleted_with_its_events_and_deliveries(store: Store) -> None:
    key = await create_key(store, "k", None)
    other = await create_key(store, "o", None)
    kept, gone = await queued(store, key.key_id), await queued(store, key.key_id)
    change = Transition([Status.QUEUED], Status.CANCELLED, owner_id=key.key_id)
    assert await store.transition(gone, change) is not None
    assert await store.delete_task(gone, other.key_id) is None, "not the owner's"
    assert await store.delete_task(kept, key.key_id) is None, "still queued"
    assert await store.deliveries_for(gone)

    removed = await store.delete_task(gone, key.key_id)
    assert removed is not None and removed.status is Status.CANCELLED
    assert await store.task(gone) is None
    assert await store.delete_task(gone, key.key_id) is None
    listed = await store.find_tasks(key.key_id, TaskQuery(), limit=10)
    assert [t.id for t in listed] == [kept]
    assert await store.count_tasks(key.key_id, TaskQuery()) == 1
    assert {e.task_id for e in await store.events_after(key.key_id, 0)} == {kept}
    assert await store.deliveries_for(gone) == []
    assert gone not in {d.task_id for d in await store.claim_deliveries("d", LEASE, 10)}
    ledger = [(e.task_id, e.kind) for e in await store.ledger_for(key.key_id)]
    assert (gone, "refund") in ledger
    assert (await store.task(kept)) is not None
