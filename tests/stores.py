"""The store under test on every backend: SQLite in a temporary file, the PostgreSQL test
cluster (tests/postgres.py) and the in-memory store. Registered in tests/conftest.py.

`open_backend` opens another handle on one empty database (for memory, the one store itself),
so a test can act through two handles as two processes would; `store` is one opened handle.
`new_task` makes a task to insert, as a submit would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from vidgate.catalog import Shape
from vidgate.clock import utcnow
from vidgate.ids import new_task_id
from vidgate.models import Mode, VideoRequest
from vidgate.records import NewTask
from vidgate.store import MemoryStore, SqlStore, Store

__all__ = ["BACKENDS", "SHAPE", "new_task", "open_backend", "store"]

SHAPE = Shape(width=832, height=480, fps=24, duration=5, resolution="480P", ratio="16:9")


def new_task(owner: str, seconds: float = 5.0, **changes: Any) -> NewTask:
    """A 5 s 480P text-to-video task of ``owner`` reserving ``seconds``, with ``changes``."""
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
        reserved_seconds=seconds,
        created_at=utcnow(),
    )
    return dataclasses.replace(task, **changes)


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
