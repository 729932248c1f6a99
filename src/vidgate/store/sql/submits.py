"""Group commit of submits: the submits that arrive together share one transaction.

A submit's transaction is a handful of short statements, and on both backends beginning and
committing it, and on PostgreSQL the locks that order its event, cost more than the statements.
Submits that arrive in the same turn of the event loop, or while the group before them
commits, are queued and committed together: one UPDATE reserves each key's seconds for all
its submits, one statement each inserts the tasks, their ledger entries and their events,
and one commit makes them durable. Every submit is answered only after that commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, update

from vidgate.records import NewTask, TaskRecord
from vidgate.store.base import StoreUnavailable
from vidgate.store.sql.database import Connectionlike, Database
from vidgate.store.sql.outbox import append_events
from vidgate.store.sql.rows import task_values
from vidgate.store.sql.tables import api_keys, ledger, tasks

__all__ = ["SubmitGroups", "ledger_reservation"]

INSERT_TASKS = insert(tasks)
INSERT_LEDGER = insert(ledger)
_BALANCE = api_keys.c.quota_seconds - api_keys.c.used_seconds - api_keys.c.reserved_seconds
RESERVE_UNLIMITED = (
    update(api_keys)
    .where(
        api_keys.c.id == bindparam("owner_id"),
        api_keys.c.max_submits_per_minute.is_(None),
        (api_keys.c.quota_seconds.is_(None)) | (bindparam("needed") <= _BALANCE),
    )
    .values(reserved_seconds=api_keys.c.reserved_seconds + bindparam("adding"))
    .returning(api_keys.c.id)
)
"""Reserve a group's seconds of one key, if it has them all and no submit rate limit."""

Alone = Callable[[NewTask], Awaitable[tuple[TaskRecord, bool]]]


def ledger_reservation(task: NewTask) -> dict[str, Any]:
    """The ledger row that opens a task's reservation."""
    return {
        "key_id": task.owner_id,
        "task_id": task.id,
        "kind": "reserve",
        "phase": "open",
        "seconds": task.reserved_seconds,
        "created_at": task.created_at,
    }


@dataclass(eq=False)
class _Submit:
    task: NewTask
    answer: asyncio.Future[TaskRecord]
    taken: bool = field(default=False)
    """In a group that is about to commit."""
    withdrawn: bool = field(default=False)
    """Cancelled before its group began; the group leaves it out."""
    committing: bool = field(default=False)


class SubmitGroups:
    """Submits without an idempotency key, committed in groups.

    A key with a submit rate limit, or with too little quota for all of its group, has its
    submits of that group committed one at a time afterwards by ``alone``, so that each gets
    the answer it would have had alone (accepted, or short of quota, or rate limited).
    """

    def __init__(self, db: Database, alone: Alone, *, at_once: int = 1) -> None:
        """``at_once``: how many groups may be committing together. More than one lets the
        next group's round trips overlap the last one's commit; they queue on the rows of
        the keys they share."""
        self._db = db
        self._alone = alone
        self._at_once = at_once
        self._queued: list[_Submit] = []
        self._committing: set[asyncio.Task[None]] = set()
        self._gathering = False

    async def insert(self, task: NewTask) -> TaskRecord:
        """Queue ``task`` and return its record once its group has committed."""
        submit = _Submit(task, asyncio.get_running_loop().create_future())
        self._queued.append(submit)
        self._gather()
        try:
            return await asyncio.shield(submit.answer)
        except asyncio.CancelledError as cancelled:
            if not submit.committing:
                if submit.taken:
                    submit.withdrawn = True
                else:
                    self._queued.remove(submit)
                raise
            stopped = cancelled
        # Its group is committing, and that outcome stands: a committed task is returned,
        # and the cancellation is delivered at the caller's next await.
        while not submit.answer.done():
            try:
                await asyncio.shield(submit.answer)
            except asyncio.CancelledError:
                continue
        if submit.answer.exception() is not None:
            raise stopped
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
            current.cancel()
        return submit.answer.result()

    def _gather(self) -> None:
        """Start a group at the end of this turn, if there is room for one."""
        if self._queued and not self._gathering and len(self._committing) < self._at_once:
            self._gathering = True
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._gathering = False
        group, self._queued = self._queued, []
        if not group:
            return
        for submit in group:
            submit.taken = True
        committing = asyncio.get_running_loop().create_task(self._commit(group))
        self._committing.add(committing)
        committing.add_done_callback(self._committed)

    def _committed(self, committing: asyncio.Task[None]) -> None:
        self._committing.discard(committing)
        self._gather()

    async def _commit(self, group: list[_Submit]) -> None:
        group = [submit for submit in group if not submit.withdrawn]
        for submit in group:
            submit.committing = True
        try:
            later = group
            if len(group) > 1:
                try:
                    later = await self._together(group)
                except Exception as exc:
                    for submit in group:
                        submit.answer.set_exception(exc)
                    return
            for submit in later:
                try:
                    record, _ = await self._alone(submit.task)
                except Exception as exc:
                    submit.answer.set_exception(exc)
                else:
                    submit.answer.set_result(record)
        finally:
            closing = StoreUnavailable("The store closed before this submit was committed.")
            for submit in group:
                if not submit.answer.done():
                    submit.answer.set_exception(closing)

    async def _together(self, group: list[_Submit]) -> list[_Submit]:
        """Commit what of ``group`` can be committed together; the rest, to go alone."""
        by_key: dict[str, list[_Submit]] = {}
        for submit in group:
            by_key.setdefault(submit.task.owner_id, []).append(submit)
        accepted: list[_Submit] = []
        later: list[_Submit] = []
        records: list[TaskRecord] = []
        async with self._db.writing() as conn:
            # Keys in one order, so that two nodes' groups never wait on each other's rows.
            for owner_id in sorted(by_key):
                submits = by_key[owner_id]
                if await self._reserve(conn, owner_id, submits):
                    accepted.extend(submits)
                else:
                    later.extend(submits)
            if accepted:
                await conn.execute(INSERT_TASKS, [task_values(submit.task) for submit in accepted])
                await conn.execute(
                    INSERT_LEDGER, [ledger_reservation(submit.task) for submit in accepted]
                )
                records = [TaskRecord.queued(submit.task) for submit in accepted]
                await append_events(self._db, conn, [(r, r.created_at) for r in records])
        for submit, record in zip(accepted, records, strict=True):
            submit.answer.set_result(record)
        return later

    @staticmethod
    async def _reserve(conn: Connectionlike, owner_id: str, submits: list[_Submit]) -> bool:
        seconds = sum(submit.task.reserved_seconds for submit in submits)
        reserved = await conn.execute(
            RESERVE_UNLIMITED, {"owner_id": owner_id, "needed": seconds, "adding": seconds}
        )
        return reserved.first() is not None
