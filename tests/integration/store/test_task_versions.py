"""`task_version` on every backend: equal while a task is unchanged, different once another
handle on the same database changes it, and None for another owner's or an unknown task."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from vidgate.catalog import Shape
from vidgate.clock import utcnow
from vidgate.ids import new_task_id
from vidgate.models import Mode, Status, VideoRequest
from vidgate.records import NewTask, Transition
from vidgate.service.keys import create_key
from vidgate.store import Store

SHAPE = Shape(width=832, height=480, fps=24, duration=5, resolution="480P", ratio="16:9")


@pytest.fixture
async def stores(open_backend: Callable[[], Store]) -> AsyncIterator[tuple[Store, Store]]:
    reader, writer = open_backend(), open_backend()
    await reader.open()
    await writer.open()
    yield reader, writer
    await writer.close()
    if writer is not reader:
        await reader.close()


async def test_a_version_changes_with_the_task_and_only_then(stores: tuple[Store, Store]) -> None:
    reader, writer = stores
    owner = (await create_key(writer, "owner", None)).key_id
    other = (await create_key(writer, "other", None)).key_id
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
    await writer.insert_task(task)
    first = await reader.task_version(task.id, owner)
    assert first is not None
    assert await reader.task_version(task.id, owner) == first
    assert await reader.task_version(task.id, other) is None
    assert await reader.task_version("no-such-task", owner) is None
    await writer.transition(task.id, Transition([Status.QUEUED], Status.PROCESSING))
    moved = await reader.task_version(task.id, owner)
    assert moved is not None and moved != first
    await writer.transition(task.id, Transition([Status.PROCESSING], Status.CANCELLED))
    ended = await reader.task_version(task.id, owner)
    assert ended not in (first, moved, None)
