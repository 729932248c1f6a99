"""The store under test on every backend: SQLite in a temporary file, the PostgreSQL test
cluster (tests/postgres.py) and the in-memory store. Registered in tests/conftest.py.

`open_backend` opens another handle on one empty database (for memory, the one store itself),
so a test can act through two handles as two processes would; `store` is one opened handle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from vidgate.store import MemoryStore, SqlStore, Store

__all__ = ["BACKENDS", "open_backend", "store"]

BACKENDS = ["sqlite", "postgres", "memory"]


@pytest.fixture(params=BACKENDS)
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Opens another handle on one empty database (for memory, the one store itself)."""
    if request.param == "memory":
        shared = MemoryStore()
        return lambda: shared
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'test.db'}"
    return lambda: SqlStore(url)


@pytest.fixture
async def store(open_backend: Callable[[], Store]) -> AsyncIterator[Store]:
    opened = open_backend()
    await opened.open()
    yield opened
    await opened.close()
