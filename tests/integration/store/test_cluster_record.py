"""The cluster record on every backend: the first offer wins, and so does the first public URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from vidgate.clock import utcnow
from vidgate.records import ClusterRecord
from vidgate.store import Store


@pytest.fixture
async def stores(open_backend: Callable[[], Store]) -> AsyncIterator[list[Store]]:
    """Two handles on one database, as two nodes have."""
    opened = [open_backend(), open_backend()]
    for store in opened:
        await store.open()
    yield opened
    for store in opened:
        await store.close()


def offer(name: str) -> ClusterRecord:
    return ClusterRecord(
        secret_fingerprint=name * 64,
        canary_blob=f"cluster-canary-{name}",
        canary_sha256="0" * 64,
        public_url=None,
        created_at=utcnow().replace(microsecond=0),
    )


async def test_the_first_record_is_the_one_in_force(stores: list[Store]) -> None:
    first, second = stores
    assert await first.cluster_record() is None
    settled = await asyncio.gather(
        first.settle_cluster(offer("a")), second.settle_cluster(offer("b"))
    )
    assert settled[0] == settled[1]
    assert await first.settle_cluster(offer("c")) == settled[0]
    assert await second.cluster_record() == settled[0]
    assert settled[0].canary_blob in ("cluster-canary-a", "cluster-canary-b")


async def test_the_first_public_url_is_the_one_in_force(stores: list[Store]) -> None:
    first, second = stores
    await first.settle_cluster(offer("a"))
    assert await first.adopt_public_url("https://one.example") == "https://one.example"
    assert await second.adopt_public_url("https://two.example") == "https://one.example"
    record = await second.cluster_record()
    assert record is not None and record.public_url == "https://one.example"
