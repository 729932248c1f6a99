"""The retention query on every backend: completed tasks past a time, until marked purged."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from vidgate.catalog import Shape
from vidgate.clock import utcnow
from vidgate.ids import new_task_id
from vidgate.models import Mode, Status, Usage, VideoRequest
from vidgate.records import NewTask, StoredResult, Transition
from vidgate.service.keys import create_key
from vidgate.store import Store

SHAPE = Shape(width=832, height=480, fps=24, duration=5, resolution="480P", ratio="16:9")
LEASE = timedelta(seconds=30)
USAGE = Usage(
    duration=5.0,
    input_video_duration=0.0,
    output_video_duration=5.0,
    video_count=1,
    SR=480,
    ratio="16:9",
)


async def finished(store: Store, owner: str, to: Status) -> str:
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
    )
    await store.insert_task(task)
    await store.claim("local", "w1", LEASE, 1, 3)
    change = Transition(expected=[Status.PROCESSING], to=to, worker="w1")
    if to is Status.COMPLETED:
        result = StoredResult(f"{task.id}.1.mp4", 5.0, 832, 480, 24, 1234)
        change = dataclasses.replace(change, result=result, usage=USAGE, settle_seconds=5.0)
    assert await store.transition(task.id, change) is not None
    return task.id


async def test_completed_results_are_offered_once_past_the_cutoff(store: Store) -> None:
    key = await create_key(store, "k", None)
    done = await finished(store, key.key_id, Status.COMPLETED)
    await finished(store, key.key_id, Status.FAILED)
    assert await store.results_to_purge(utcnow() - timedelta(hours=1)) == []
    later = utcnow() + timedelta(seconds=1)
    assert [t.id for t in await store.results_to_purge(later)] == [done]
    await store.mark_results_purged(done)
    assert await store.results_to_purge(later) == []
    current = await store.task(done)
    assert current is not None and current.status is Status.COMPLETED
