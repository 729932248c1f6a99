"""Polling tasks at upstreams on their schedule, and finishing them when they end there."""

from __future__ import annotations

import logging
from datetime import timedelta

from vidgate.blobs import BlobStore
from vidgate.clock import utcnow
from vidgate.engine.archive import archive_result
from vidgate.engine.callbacks import UpstreamCallbacks
from vidgate.engine.finish import Finisher
from vidgate.engine.persist import persist
from vidgate.engine.schedule import expected_window, next_poll_delay
from vidgate.engine.sweep import UpstreamSweeper
from vidgate.logs import bind
from vidgate.metrics import poll_spared
from vidgate.models import Status, Task
from vidgate.providers.upstream import Polled, UpstreamError, UpstreamProvider
from vidgate.records import TaskRecord
from vidgate.retry import retry_delay
from vidgate.store import Store, StoreUnavailable

__all__ = ["UpstreamPoller"]

log = logging.getLogger("vidgate.engine")
MAX_ARCHIVE_FAILURES = 5
MAX_POLL_FAILURES = 200
SPARED_FACTOR = 4.0
"""How much further off a task's next poll is put when a sweep answered its due one."""


class UpstreamPoller:
    """Polls one task once per call; every outcome is recorded through compare-and-set."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        finisher: Finisher,
        worker: str,
        providers: dict[str, UpstreamProvider],
        max_result_bytes: int,
        callbacks: UpstreamCallbacks | None = None,
        sweepers: dict[str, UpstreamSweeper] | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.finisher = finisher
        self.worker = worker
        self.providers = providers
        self.max_result_bytes = max_result_bytes
        self.callbacks = callbacks
        self.sweepers = sweepers or {}

    async def poll(self, task: TaskRecord) -> bool:
        """Poll once; finish the task, or schedule its next poll. True when the task was
        finished, so that it no longer takes a place at its provider."""
        provider = self.providers.get(task.provider)
        if provider is None or task.upstream_id is None or task.credential is None:
            return False
        bind(upstream_task_id=task.upstream_id, key_id=task.owner_id)
        heard = self.callbacks.take(task.id) if self.callbacks is not None else None
        sweeper = self.sweepers.get(task.provider)
        if heard is None and sweeper is not None:
            delay = self._delay(task, provider)
            listed = sweeper.vouches(task.upstream_id, delay)
            if listed is not None:
                await self._spare(task, provider, sweeper, delay, listed)
                return False
        try:
            polled = (
                Polled(heard)
                if heard is not None
                else await provider.poll(task.upstream_id, task.credential)
            )
        except UpstreamError as exc:
            return await self._poll_failed(task, provider, exc)
        snapshot = polled.task
        if snapshot.status is Status.COMPLETED:
            return await self._complete(task, provider, snapshot)
        if snapshot.status in (Status.FAILED, Status.CANCELLED):
            error = snapshot.error
            await self.finisher.fail(
                task.id,
                error.code if error else "upstream_failed",
                error.message if error else "The upstream task failed.",
                worker=self.worker,
                status=snapshot.status,
            )
            return True
        if snapshot.progress and snapshot.progress < 100:
            try:
                await self.store.set_progress(task.id, self.worker, snapshot.progress)
            except StoreUnavailable as exc:
                log.warning("progress of %s not recorded: %s", task.id, exc)
        await self._schedule(task, provider, snapshot.raw_status, hint=polled.hint)
        return False

    async def _spare(
        self,
        task: TaskRecord,
        provider: UpstreamProvider,
        sweeper: UpstreamSweeper,
        delay: float,
        listed: str,
    ) -> None:
        """Answer a due poll from the latest sweep, where the task was `listed` under that
        status word: no call, and the next poll `SPARED_FACTOR` times further off (at most
        `max_poll_interval`, unless the schedule is longer), as sweeps go on answering. A
        sweep that finds the task gone meanwhile brings the poll forward again."""
        ceiling = max(delay, provider.config.max_poll_interval)
        await self._record(task, min(delay * SPARED_FACTOR, ceiling), listed, failed=False)
        poll_spared(task.provider)
        if task.upstream_id is not None and sweeper.vouches(task.upstream_id, delay) is None:
            await persist(
                lambda: self.store.expedite_poll(task.id, utcnow()), f"bringing {task.id} forward"
            )

    def _delay(
        self, task: TaskRecord, provider: UpstreamProvider, hint: float | None = None
    ) -> float:
        """Seconds to the task's next poll on its own schedule."""
        config = provider.config
        elapsed = (utcnow() - (task.started_at or task.created_at)).total_seconds()
        low, _ = expected_window(task.mode, task.shape.duration, task.shape.resolution, task.model)
        delay = next_poll_delay(
            elapsed,
            expected_low=low * config.expected_time_scale,
            interval=config.poll_interval,
            max_interval=config.max_poll_interval,
            hint=hint,
        )
        if self.callbacks is not None and self.callbacks.expected(provider):
            delay *= config.callback_poll_factor
        return delay

    async def _schedule(
        self,
        task: TaskRecord,
        provider: UpstreamProvider,
        raw_status: str | None,
        *,
        hint: float | None = None,
        failed: bool = False,
        retry_after: float | None = None,
    ) -> None:
        config = provider.config
        if failed:
            delay = retry_delay(
                task.poll_failures + 1,
                base=config.poll_interval,
                cap=config.max_poll_interval,
                retry_after=retry_after,
            )
        else:
            delay = self._delay(task, provider, hint)
        await self._record(task, delay, raw_status, failed=failed)

    async def _record(
        self, task: TaskRecord, delay: float, raw_status: str | None, *, failed: bool
    ) -> None:
        next_poll_at = utcnow() + timedelta(seconds=delay)
        await persist(
            lambda: self.store.reschedule(
                task.id,
                self.worker,
                next_poll_at=next_poll_at,
                upstream_status=raw_status,
                failed_poll=failed,
            ),
            f"rescheduling {task.id}",
        )

    async def _poll_failed(
        self, task: TaskRecord, provider: UpstreamProvider, exc: UpstreamError
    ) -> bool:
        if task.poll_failures + 1 >= MAX_POLL_FAILURES:
            await self.finisher.fail(task.id, exc.code, exc.message, worker=self.worker)
            return True
        log.info("task %s: poll failed (%s)", task.id, exc)
        await self._schedule(task, provider, None, failed=True, retry_after=exc.retry_after)
        return False

    async def _complete(self, task: TaskRecord, provider: UpstreamProvider, snapshot: Task) -> bool:
        given = snapshot.result.video_url if snapshot.result else None
        try:
            result, usage = await archive_result(
                self.blobs, provider, task, given, snapshot.usage, self.max_result_bytes
            )
        except UpstreamError as exc:
            if task.poll_failures + 1 >= MAX_ARCHIVE_FAILURES:
                await self.finisher.fail(
                    task.id,
                    "result_unavailable",
                    f"The result could not be stored: {exc.message}",
                    worker=self.worker,
                )
                return True
            await self._schedule(task, provider, snapshot.raw_status, failed=True)
            return False
        await self.finisher.complete(
            task, self.worker, result, usage, upstream_status=snapshot.raw_status
        )
        return True
