"""The one path by which the engine ends a task, for local renders and upstream tasks alike."""

from __future__ import annotations

import logging
from collections.abc import Collection

from vidgate.blobs import BlobStore
from vidgate.catalog import SIZES
from vidgate.engine.persist import persist
from vidgate.logs import task_fields
from vidgate.metrics import task_ended
from vidgate.models import Status, TaskError, Usage
from vidgate.records import StoredResult, TaskRecord, Transition
from vidgate.store import Store

__all__ = ["Finisher", "resolution_tier"]

log = logging.getLogger("vidgate.engine")


def resolution_tier(width: int, height: int) -> int:
    """The `SR` of a size: its catalogue tier (480, 720, 1080), else its short side."""
    for tier, sizes in SIZES.items():
        if (width, height) in sizes.values():
            return int(tier.rstrip("P"))
    return min(width, height)


def _ended(task: TaskRecord) -> None:
    """Count and log a task that this process ended."""
    task_ended(task)
    log.info("task %s %s", task.id, task.status.value, extra=task_fields(task))


class Finisher:
    """Records how tasks end through the store's compare-and-set; a lost race changes nothing."""

    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    async def complete(
        self,
        task: TaskRecord,
        worker: str,
        result: StoredResult,
        usage: Usage,
        *,
        upstream_status: str | None = None,
    ) -> bool:
        """Complete a task the worker holds and settle its usage; on a lost race the result
        blob is deleted, as nothing refers to it. A store outage is waited out."""
        change = Transition(
            expected=(Status.PROCESSING,),
            to=Status.COMPLETED,
            worker=worker,
            result=result,
            usage=usage,
            upstream_status=upstream_status,
            settle_seconds=usage.duration,
        )
        changed = await persist(
            lambda: self.store.transition(task.id, change), f"completing {task.id}"
        )
        if changed is None:
            # A retry after a commit whose answer was lost finds the task already completed.
            current = await persist(lambda: self.store.task(task.id), f"reading {task.id}")
            if current is not None and current.result == result:
                return True
            await self.blobs.delete(result.blob)
            return False
        _ended(changed)
        return True

    async def fail(
        self,
        task_id: str,
        code: str,
        message: str,
        *,
        worker: str | None,
        status: Status = Status.FAILED,
        expected: Collection[Status] = (Status.PROCESSING,),
    ) -> bool:
        """End a task as failed (or cancelled upstream) and refund it; ``worker`` None means
        whoever holds it, as the reaper does. A store outage is waited out."""
        error = TaskError(code=code, message=message)
        change = Transition(expected=expected, to=status, worker=worker, error=error)
        changed = await persist(lambda: self.store.transition(task_id, change), f"ending {task_id}")
        if changed is not None:
            _ended(changed)
        return changed is not None
