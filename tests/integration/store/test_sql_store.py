"""What only the SQL store has to prove: migrations, concurrent openers, and commit order."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from test_store_contract import new_task

from vidgate.clock import utcnow
from vidgate.models import Status
from vidgate.records import Transition
from vidgate.service.keys import create_key
from vidgate.store import SqlStore
from vidgate.store.sql.outbox import append_event
from vidgate.store.sql.tables import metadata

pytest_plugins = ["postgres"]  # the postgres_cluster and postgres_url fixtures


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    opened = SqlStore(database_url)
    await opened.open()
    yield opened
    await opened.close()


async def test_migrations_produce_exactly_the_declared_schema(store: SqlStore) -> None:
    async with store.db.reading() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert diff == []


async def test_concurrent_opens_of_a_new_database_migrate_it_once(database_url: str) -> None:
    stores = [SqlStore(database_url) for _ in range(4)]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.open() for s in stores)), 60)
        key = await create_key(stores[0], "k", None)
        assert (await stores[-1].key_by_id(key.key_id)) is not None
    finally:
        for opened in stores:
            await opened.close()


async def test_events_become_visible_in_id_order(store: SqlStore) -> None:
    """A follower that has read event n must never later find an event below n."""
    key = await create_key(store, "k", None)
    first, _ = await store.insert_task(new_task(key.key_id))
    second, _ = await store.insert_task(new_task(key.key_id))
    before = await store.last_event_id()
    async with store.db.writing() as conn:
        await append_event(store.db, conn, first, utcnow())
        later = asyncio.ensure_future(
            store.transition(second.id, Transition(expected=[Status.QUEUED], to=Status.CANCELLED))
        )
        await asyncio.sleep(0.3)
        assert await store.events_since(before) == []
        assert not later.done()
    assert await asyncio.wait_for(later, 30) is not None
    found = await store.events_since(before)
    assert [e.task_id for e in found] == [first.id, second.id]
    assert found[0].id < found[1].id


async def test_a_write_cancelled_while_waiting_leaves_the_store_usable(store: SqlStore) -> None:
    key = await create_key(store, "k", None)
    task, _ = await store.insert_task(new_task(key.key_id))
    [claimed] = await store.claim("local", "w1", timedelta(seconds=30), 1, 3)
    async with store.db.writing() as conn:
        await append_event(store.db, conn, claimed, utcnow())
        blocked = asyncio.ensure_future(store.set_progress(task.id, "w1", 50))
        await asyncio.sleep(0.3)
        assert not blocked.done()
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
    assert await store.set_progress(task.id, "w1", 60)
    current = await store.task(task.id)
    assert current is not None and current.progress == 60


async def test_tasks_stored_before_events_kept_their_state_still_read(tmp_path: Path) -> None:
    """Events written by earlier versions have no state; they read back with none."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = SqlStore(url)
    await store.open()
    try:
        key = await create_key(store, "k", None)
        task, _ = await store.insert_task(new_task(key.key_id))
        with sqlite3.connect(tmp_path / "old.db") as raw:
            raw.execute("UPDATE events SET state = NULL")
            stored = raw.execute("SELECT request FROM tasks").fetchone()[0]
        [event] = await store.events_after(key.key_id, 0)
        assert event.state is None and event.task_id == task.id
        assert json.loads(stored)["resolved"]["seed"] == 7
    finally:
        await store.close()
