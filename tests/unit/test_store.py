"""The store: migrations equal the schema, and status changes settle quota exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from vidgate.clock import utcnow
from vidgate.ids import new_task_id
from vidgate.keys import create_key
from vidgate.models import Status
from vidgate.store import QuotaShort, Store
from vidgate.store.tables import metadata

pytest_plugins = ["postgres"]  # the postgres_cluster and postgres_url fixtures


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store(database_url)
    await opened.open()
    yield opened
    await opened.close()


def task_row(owner: str, seconds: float = 5.0, **extra: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_task_id(),
        "owner_id": owner,
        "model": "wan2.6-t2v",
        "mode": "t2v",
        "provider": "local",
        "request": {"prompt": "x"},
        "status": "queued",
        "progress": 0,
        "reserved_seconds": seconds,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        **extra,
    }


async def test_migrations_produce_exactly_the_declared_schema(store: Store) -> None:
    async with store.reading() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert diff == []


async def test_opening_twice_is_harmless(store: Store) -> None:
    await store.open()


async def test_quota_is_checked_and_reserved_atomically(store: Store) -> None:
    key = await create_key(store, "k", 12)
    outcomes = await asyncio.gather(
        *(store.insert_task(task_row(key.key_id, 5)) for _ in range(5)), return_exceptions=True
    )
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(accepted) == 2
    assert all(isinstance(o, QuotaShort) for o in outcomes if isinstance(o, BaseException))
    row = await store.key_by_id(key.key_id)
    assert row is not None and row["reserved_seconds"] == 10


@pytest.mark.parametrize("rounds", [range(6)])
async def test_racing_terminal_transitions_settle_or_refund_once(
    store: Store, rounds: range
) -> None:
    key = await create_key(store, "k", 1000)
    expected_used = 0.0
    for _ in rounds:
        row, _ = await store.insert_task(task_row(key.key_id, 5))
        [claimed] = await store.claim("local", "w1", timedelta(seconds=30), 1, 3)
        assert claimed["id"] == row["id"]
        results = await asyncio.gather(
            store.transition(
                row["id"],
                expected=[Status.PROCESSING],
                to=Status.COMPLETED,
                worker="w1",
                values={"progress": 100},
                settle_seconds=4.0,
            ),
            *(
                store.transition(
                    row["id"], expected=[Status.QUEUED, Status.PROCESSING], to=Status.CANCELLED
                )
                for _ in range(3)
            ),
            store.transition(row["id"], expected=[Status.PROCESSING], to=Status.FAILED),
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        if winners[0]["status"] == "completed":
            expected_used += 4.0
        for status in (Status.QUEUED, Status.PROCESSING):
            assert await store.transition(row["id"], expected=[status], to=Status.FAILED) is None
        with pytest.raises(ValueError, match="terminal"):
            await store.transition(row["id"], expected=[Status.COMPLETED], to=Status.FAILED)

    ledger = await store.ledger_for(key.key_id)
    reserves = [r for r in ledger if r["kind"] == "reserve"]
    closes = [r for r in ledger if r["phase"] == "close"]
    assert len(reserves) == len(closes) == len(rounds)
    key_row = await store.key_by_id(key.key_id)
    assert key_row is not None
    assert key_row["reserved_seconds"] == 0
    assert key_row["used_seconds"] == expected_used
    assert sum(r["seconds"] for r in closes if r["kind"] == "settle") == expected_used


async def test_expired_leases_are_reclaimed_and_attempts_capped(store: Store) -> None:
    key = await create_key(store, "k", None)
    row, _ = await store.insert_task(task_row(key.key_id))
    [first] = await store.claim("local", "w1", timedelta(seconds=-1), 1, 2)
    assert first["attempts"] == 1
    [second] = await store.claim("local", "w2", timedelta(seconds=-1), 1, 2)
    assert second["id"] == row["id"] and second["attempts"] == 2
    assert await store.renew(row["id"], "w1", timedelta(seconds=30)) is False
    assert await store.claim("local", "w3", timedelta(seconds=30), 1, 2) == []
    assert [r["id"] for r in await store.exhausted(2)] == [row["id"]]


async def test_idempotency_key_is_unique_per_owner(store: Store) -> None:
    key = await create_key(store, "k", None)
    first, created = await store.insert_task(task_row(key.key_id, idempotency_key="a"))
    again, created_again = await store.insert_task(task_row(key.key_id, idempotency_key="a"))
    assert created and not created_again
    assert again["id"] == first["id"]


async def test_concurrent_opens_of_a_new_database_migrate_it_once(database_url: str) -> None:
    stores = [Store(database_url) for _ in range(4)]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.open() for s in stores)), 60)
        key = await create_key(stores[0], "k", None)
        assert (await stores[-1].key_by_id(key.key_id)) is not None
    finally:
        for opened in stores:
            await opened.close()


async def test_events_become_visible_in_id_order(store: Store) -> None:
    """A follower that has read event n must never later find an event below n."""
    key = await create_key(store, "k", None)
    first, _ = await store.insert_task(task_row(key.key_id))
    second, _ = await store.insert_task(task_row(key.key_id))
    before = await store.last_event_id()
    async with store.writing() as conn:
        await store._event(conn, first, Status.PROCESSING, 0, utcnow())
        later = asyncio.ensure_future(
            store.transition(second["id"], expected=[Status.QUEUED], to=Status.CANCELLED)
        )
        await asyncio.sleep(0.3)
        assert await store.events_since(before) == []
        assert not later.done()
    assert await asyncio.wait_for(later, 30) is not None
    rows = await store.events_since(before)
    assert [r["task_id"] for r in rows] == [first["id"], second["id"]]
    assert rows[0]["id"] < rows[1]["id"]


async def test_claims_racing_cancels_take_each_task_once(store: Store) -> None:
    key = await create_key(store, "k", 100)
    ids = [(await store.insert_task(task_row(key.key_id, 2)))[0]["id"] for _ in range(6)]
    other = Store(store.url)
    lease = timedelta(seconds=30)
    try:
        claims = asyncio.gather(
            store.claim("local", "w1", lease, 6, 3), other.claim("local", "w2", lease, 6, 3)
        )
        cancels = asyncio.gather(
            *(
                store.transition(task_id, expected=[Status.QUEUED], to=Status.CANCELLED)
                for task_id in reversed(ids)
            )
        )
        batches, outcomes = await asyncio.wait_for(asyncio.gather(claims, cancels), 60)
    finally:
        await other.close()
    claimed = [row["id"] for batch in batches for row in batch]
    cancelled = [row["id"] for row in outcomes if row is not None]
    assert sorted(claimed + cancelled) == sorted(ids)
    for task_id in ids:
        row = await store.task(task_id)
        assert row is not None
        assert row["status"] == ("processing" if task_id in claimed else "cancelled")
    key_row = await store.key_by_id(key.key_id)
    assert key_row is not None and key_row["reserved_seconds"] == 2 * len(claimed)


async def test_free_text_is_kept_whole_and_times_stay_naive_utc(store: Store) -> None:
    key = await create_key(store, "k", None)
    created = (utcnow() - timedelta(seconds=2)).replace(microsecond=123456)
    row, _ = await store.insert_task(task_row(key.key_id, created_at=created))
    assert row["created_at"] == created and row["created_at"].tzinfo is None
    long_status = "RUNNING_" + "x" * 200
    [claimed] = await store.claim("local", "w1", timedelta(seconds=30), 1, 3)
    done = await store.transition(
        row["id"],
        expected=[Status.PROCESSING],
        to=Status.COMPLETED,
        worker="w1",
        values={"upstream_status": long_status, "result": {"blob": "b.mp4"}, "usage": None},
    )
    assert done is not None and done["upstream_status"] == long_status
    assert done["result"] == {"blob": "b.mp4"} and done["usage"] is None
    assert claimed["lease_expires_at"] > claimed["started_at"] >= created
    await store.insert_file(
        {
            "id": "file_1.png",
            "owner_id": key.key_id,
            "purpose": "input",
            "filename": "n" * 400 + ".png",
            "content_type": "image/png; " + "p=" * 100,
            "bytes": 3,
            "sha256": "0" * 64,
            "created_at": created,
        }
    )
    stored = await store.file("file_1.png")
    assert stored is not None and len(stored["filename"]) == 404
    assert stored["created_at"] == created


async def test_a_write_cancelled_while_waiting_leaves_the_store_usable(store: Store) -> None:
    key = await create_key(store, "k", None)
    row, _ = await store.insert_task(task_row(key.key_id))
    [claimed] = await store.claim("local", "w1", timedelta(seconds=30), 1, 3)
    async with store.writing() as conn:
        await store._event(conn, claimed, Status.PROCESSING, 1, utcnow())
        blocked = asyncio.ensure_future(store.set_progress(row["id"], "w1", 50))
        await asyncio.sleep(0.3)
        assert not blocked.done()
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
    assert await store.set_progress(row["id"], "w1", 60)
    current = await store.task(row["id"])
    assert current is not None and current["progress"] == 60
