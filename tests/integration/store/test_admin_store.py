"""The store's admin part, on every backend: key changes, the audit log, tasks of every key,
and provider health."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from vidgate.catalog import Shape
from vidgate.clock import utcnow
from vidgate.ids import hash_key, new_task_id
from vidgate.models import Mode, Status, TaskError, VideoRequest
from vidgate.records import KeyChange, NewTask, TaskFilter, Transition
from vidgate.service.keys import create_key
from vidgate.store import MemoryStore, SqlStore, Store

pytest_plugins = ["postgres"]  # the postgres_cluster and postgres_url fixtures

SHAPE = Shape(width=832, height=480, fps=24, duration=2, resolution="480P", ratio="16:9")


@pytest.fixture(params=["sqlite", "postgres", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "memory":
        opened = MemoryStore()
    elif request.param == "postgres":
        opened = SqlStore(request.getfixturevalue("postgres_url"))
    else:
        opened = SqlStore(f"sqlite:///{tmp_path / 'test.db'}")
    await opened.open()
    yield opened
    await opened.close()


def new_task(owner: str, provider: str = "local") -> NewTask:
    return NewTask(
        id=new_task_id(),
        owner_id=owner,
        model="wan2.6-t2v",
        mode=Mode.T2V,
        provider=provider,
        request=VideoRequest(prompt="a boat", model="wan2.6-t2v", mode=Mode.T2V),
        shape=SHAPE,
        seed=7,
        inputs=(),
        reserved_seconds=2.0,
        created_at=utcnow(),
    )


async def test_key_changes_and_the_audit_log(store: Store) -> None:
    """Changes apply only to unrevoked keys; the audit log reads newest first."""
    made = await create_key(store, "a", 10.0)
    key_id = made.key_id
    changed = await store.change_key(key_id, KeyChange(name="b", top_up_seconds=5.0))
    assert changed is not None and (changed.name, changed.quota_seconds) == ("b", 15.0)
    changed = await store.change_key(key_id, KeyChange(unlimited=True))
    assert changed is not None and changed.quota_seconds is None
    changed = await store.change_key(key_id, KeyChange(quota_seconds=3.0))
    assert changed is not None and changed.quota_seconds == 3.0

    rotated = await store.change_key(key_id, KeyChange(key_hash=hash_key("new"), prefix="vg-new"))
    assert rotated is not None and rotated.prefix == "vg-new"
    assert await store.key_by_hash(hash_key(made.key)) is None
    found = await store.key_by_hash(hash_key("new"))
    assert found is not None and found.id == key_id

    revoked = await store.change_key(key_id, KeyChange(revoked_at=utcnow()))
    assert revoked is not None and revoked.revoked_at is not None
    assert await store.key_by_hash(hash_key("new")) is None
    assert await store.change_key(key_id, KeyChange(name="c")) is None
    assert await store.change_key(key_id, KeyChange()) is None
    assert await store.change_key("key_missing", KeyChange(name="c")) is None
    kept = await store.key_by_id(key_id)
    assert kept is not None and kept.name == "b"

    assert await store.last_audit_id() == 0
    first = await store.record_audit("cli", "key.create", "key_a", None, {"name": "a"})
    second = await store.record_audit("key:x", "key.rename", "key_a", {"n": 1}, {"n": 2})
    third = await store.record_audit("key:x", "task.cancel", "task_b", None, None)
    assert first.id < second.id < third.id == await store.last_audit_id()
    assert [e.id for e in await store.audit_log()] == [third.id, second.id, first.id]
    [entry] = await store.audit_log("key_a", limit=1)
    assert (entry.action, entry.before, entry.after) == ("key.rename", {"n": 1}, {"n": 2})
    assert [e.id for e in await store.audit_log(before_id=second.id)] == [first.id]


async def test_tasks_of_every_key_and_provider_health(store: Store) -> None:
    a, b = [await create_key(store, name, None) for name in ("a", "b")]
    first, _ = await store.insert_task(new_task(a.key_id))
    second, _ = await store.insert_task(new_task(b.key_id))
    third, _ = await store.insert_task(new_task(b.key_id, provider="up"))
    everything = await store.tasks_of_any(TaskFilter(), limit=10)
    assert [t.id for t in everything] == [third.id, second.id, first.id]
    assert [t.id for t in await store.tasks_of_any(TaskFilter(owner_id=b.key_id), limit=1)] == [
        third.id
    ]
    assert [t.id for t in await store.tasks_of_any(TaskFilter(provider="local"), limit=10)] == [
        second.id,
        first.id,
    ]
    later = TaskFilter(created_from=utcnow() + timedelta(minutes=1))
    assert await store.tasks_of_any(later, limit=10) == []
    assert [t.id for t in await store.tasks_of_any(TaskFilter(after=second.id), limit=10)] == [
        first.id
    ]

    await store.claim("local", "w1", timedelta(seconds=30), 1, 3)
    error = TaskError(code="boom", message="it broke")
    failed = await store.transition(
        second.id, Transition([Status.QUEUED, Status.PROCESSING], Status.FAILED, error=error)
    )
    assert failed is not None
    health = await store.provider_health("local", utcnow() - timedelta(hours=1))
    assert dataclasses.astuple(health)[:5] == ("local", 0, 1, 0, 1)
    assert health.last_error == error and health.last_error_at is not None
    elsewhere = await store.provider_health("up", utcnow() - timedelta(hours=1))
    assert (elsewhere.queued, elsewhere.failed, elsewhere.last_error) == (1, 0, None)
    by_status = await store.tasks_of_any(TaskFilter(status=Status.FAILED), limit=10)
    assert [t.id for t in by_status] == [second.id]
