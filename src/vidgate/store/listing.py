"""Filtered task listings: counts, offset pages and cursor pages in either order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from vidgate.store.store import Row, Store
from vidgate.store.tables import tasks

__all__ = ["TaskQuery", "count_tasks", "find_tasks"]


@dataclass(frozen=True)
class TaskQuery:
    """Which of one owner's tasks to list, and in what order (ids sort by creation time)."""

    status: str | None = None
    model: str | None = None
    task_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    after: str | None = None
    ascending: bool = False


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _conditions(owner_id: str, query: TaskQuery) -> list[ColumnElement[Any]]:
    where: list[ColumnElement[Any]] = [tasks.c.owner_id == owner_id]
    if query.status is not None:
        where.append(tasks.c.status == query.status)
    if query.model is not None:
        where.append(tasks.c.model == query.model)
    if query.task_id is not None:
        where.append(tasks.c.id == query.task_id)
    if query.created_from is not None:
        where.append(tasks.c.created_at >= _naive(query.created_from))
    if query.created_to is not None:
        where.append(tasks.c.created_at <= _naive(query.created_to))
    if query.after is not None:
        where.append(tasks.c.id > query.after if query.ascending else tasks.c.id < query.after)
    return where


async def count_tasks(store: Store, owner_id: str, query: TaskQuery) -> int:
    """How many of the owner's tasks match."""
    statement = select(func.count()).select_from(tasks).where(*_conditions(owner_id, query))
    async with store.reading() as conn:
        return int((await conn.execute(statement)).scalar_one())


async def find_tasks(
    store: Store, owner_id: str, query: TaskQuery, *, limit: int, offset: int = 0
) -> list[Row]:
    """Up to `limit` matching tasks, skipping `offset`, newest first unless ascending."""
    order = tasks.c.id.asc() if query.ascending else tasks.c.id.desc()
    statement = (
        select(tasks)
        .where(*_conditions(owner_id, query))
        .order_by(order)
        .limit(limit)
        .offset(offset)
    )
    async with store.reading() as conn:
        return list((await conn.execute(statement)).mappings())
