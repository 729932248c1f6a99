"""`task_version` on every backend: equal while a task is unchanged, different once another
handle on the same database changes it, and None for another owner's or an unknown task;
`audited_task_version` answers each of many reads at once with its own task; the change
stamp holds while nothing is written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from stores import new_task
from vidgate.models import Status
from vidgate.records import Transition
from vidgate.service.keys import create_key
from vidgate.store import Store
from vidgate.store.sql import SqlStore


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
    task = new_task(owner)
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


async def test_many_audited_reads_at_once_each_get_their_own_task(
    stores: tuple[Store, Store],
) -> None:
    reader, writer = stores
    owners = [(await create_key(writer, f"owner-{i}", None)).key_id for i in range(3)]
    made = [new_task(owners[i % 3]) for i in range(12)]
    for task in made:
        await writer.insert_task(task)
    asked = [(task.id, task.owner_id) for task in made]
    asked += [(task.id, owners[(owners.index(task.owner_id) + 1) % 3]) for task in made[:4]]
    asked += [("no-such-task", owners[0])] * 2
    answers = await asyncio.gather(*(reader.audited_task_version(t, o) for t, o in asked))
    audit_id = await reader.last_audit_id()
    for (task_id, owner_id), answer in zip(asked, answers, strict=True):
        expected = await reader.task_version(task_id, owner_id)
        if expected is None:
            assert answer is None, (task_id, owner_id)
        else:
            assert answer == (audit_id, expected), (task_id, owner_id)
    await writer.record_audit("cli", "key.rename", owners[0], None, None)
    again = await reader.audited_task_version(made[0].id, made[0].owner_id)
    assert again is not None and again[0] > audit_id


async def test_the_change_stamp_holds_until_something_is_written(
    stores: tuple[Store, Store],
) -> None:
    reader, writer = stores
    owner = (await create_key(writer, "owner", None)).key_id
    task = new_task(owner)
    await writer.insert_task(task)
    stamp = reader.change_stamp()
    on_sqlite = isinstance(reader, SqlStore) and reader.db.sqlite
    assert (stamp is not None) == on_sqlite, "SQLite tells; the other backends cannot"
    if stamp is None:
        return
    assert await reader.task_version(task.id, owner) is not None
    assert reader.change_stamp() == stamp, "reading changes nothing"
    await writer.transition(task.id, Transition([Status.QUEUED], Status.PROCESSING))
    assert reader.change_stamp() != stamp
