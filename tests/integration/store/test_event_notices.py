"""Announcing events to other processes: PostgreSQL's NOTIFY is sent on commit, never before,
and never for a transaction that rolls back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_store_contract import new_task

from vidgate.clock import utcnow
from vidgate.models import Status
from vidgate.records import EventNotice, Transition
from vidgate.service.keys import create_key
from vidgate.store import MemoryStore, SqlStore
from vidgate.store.sql.outbox import append_event

pytest_plugins = ["postgres"]  # the postgres_cluster and postgres_url fixtures


class Rollback(Exception):
    pass


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlStore]:
    opened = SqlStore(postgres_url)
    await opened.open()
    yield opened
    await opened.close()


async def test_notices_are_sent_on_commit_and_never_for_a_rollback(store: SqlStore) -> None:
    key = await create_key(store, "k", None)
    heard: list[int] = []
    store.listeners.append(lambda event: heard.append(event.id))
    subscription = store.listen_events()
    assert subscription is not None
    async with subscription as notices:
        task, _ = await store.insert_task(new_task(key.key_id))
        queued = await notices.next(5)
        assert queued == EventNotice(heard[-1], task.id, key.key_id, Status.QUEUED, "local")

        with pytest.raises(Rollback):
            async with store.db.writing() as conn:
                await append_event(store.db, conn, task, utcnow())
                raise Rollback
        assert await notices.next(0.5) is None
        assert heard == [queued.id]

        change = Transition(expected=[Status.QUEUED], to=Status.CANCELLED)
        assert await store.transition(task.id, change) is not None
        cancelled = await notices.next(5)
        assert cancelled is not None
        assert (cancelled.task_id, cancelled.status) == (task.id, Status.CANCELLED)
        assert [queued.id, cancelled.id] == heard
        assert [e.id for e in await store.events_since(0)] == heard


async def test_a_notice_is_not_heard_before_its_transaction_commits(store: SqlStore) -> None:
    key = await create_key(store, "k", None)
    task, _ = await store.insert_task(new_task(key.key_id))
    subscription = store.listen_events()
    assert subscription is not None
    async with subscription as notices:
        async with store.db.writing() as conn:
            written = await append_event(store.db, conn, task, utcnow())
            assert await notices.next(0.3) is None
        notice = await notices.next(5)
        assert notice is not None and notice.id == written.id


async def test_sqlite_and_memory_announce_nothing_to_other_processes(tmp_path: Path) -> None:
    assert SqlStore(f"sqlite:///{tmp_path / 'test.db'}").listen_events() is None
    assert MemoryStore().listen_events() is None
