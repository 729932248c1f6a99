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


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = Store(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
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
