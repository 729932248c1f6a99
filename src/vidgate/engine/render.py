"""Running one claimed task on a local provider, under a lease, to a terminal status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from vidgate.blobs import BlobStore
from vidgate.engine.finish import Finisher, resolution_tier
from vidgate.models import Status, Usage
from vidgate.notifier import Notifier
from vidgate.providers.base import Job, JobInput, Provider, ProviderError, Rendered
from vidgate.records import StoredResult, TaskRecord
from vidgate.store import Store

__all__ = ["LocalRunner", "job_for"]

log = logging.getLogger("vidgate.engine")
PROGRESS_EVERY = 0.5
WATCH_EVERY = 1.0


async def job_for(task: TaskRecord, blobs: BlobStore) -> Job:
    """The provider's view of a stored task: its inputs as files on this machine."""
    paths = [await blobs.local_copy(item.blob) for item in task.inputs]
    return Job(
        task_id=task.id,
        model=task.model,
        mode=task.mode,
        request=task.request,
        shape=task.shape,
        seed=task.seed,
        inputs=tuple(
            JobInput(item.field, path, item.kind)
            for item, path in zip(task.inputs, paths, strict=True)
        ),
    )


class LocalRunner:
    """Runs a task, keeps its lease alive, and records how it ended exactly once."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        notifier: Notifier,
        finisher: Finisher,
        worker: str,
        lease: timedelta,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.notifier = notifier
        self.finisher = finisher
        self.worker = worker
        self.lease = lease

    async def run(self, task: TaskRecord, provider: Provider) -> None:
        try:
            job = await job_for(task, self.blobs)
        except FileNotFoundError:
            message = "An input of the task is no longer stored."
            await self.finisher.fail(task.id, "render_failed", message, worker=self.worker)
            return
        staged = self.blobs.staging(task.id, ".mp4")
        last_report = 0.0

        async def report(percent: int) -> None:
            nonlocal last_report
            now = time.monotonic()
            if percent < 100 and now - last_report < PROGRESS_EVERY:
                return
            last_report = now
            try:
                await self.store.set_progress(task.id, self.worker, min(percent, 99))
            except Exception as exc:
                # Progress is a hint; a lost write must never fail the render itself.
                log.warning("progress of %s not recorded: %s", task.id, exc)

        render = asyncio.create_task(provider.run(job, staged, report))
        watcher = asyncio.create_task(self._watch(task.id, render))
        try:
            rendered = await render
        except asyncio.CancelledError:
            staged.unlink(missing_ok=True)
            if not render.cancelled():
                raise
            return
        except ProviderError as exc:
            staged.unlink(missing_ok=True)
            await self.finisher.fail(task.id, exc.code, exc.message, worker=self.worker)
            return
        except Exception as exc:
            log.exception("task %s failed in provider %s", task.id, provider.name)
            staged.unlink(missing_ok=True)
            message = f"{type(exc).__name__}: {exc}"
            await self.finisher.fail(task.id, "render_failed", message, worker=self.worker)
            return
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        try:
            await self._complete(task, rendered)
        finally:
            rendered.path.unlink(missing_ok=True)  # a failed upload leaves no scratch file

    async def _watch(self, task_id: str, render: asyncio.Task[Rendered]) -> None:
        """Renew the lease; stop the render once the task is cancelled or taken over.

        A store error skips one look and is tried again: a watcher that died would leave the
        render running without its lease, for another worker to render a second time."""
        renew_every = self.lease.total_seconds() / 3
        last_renew = time.monotonic()
        while not render.done():
            await self.notifier.wait(f"task:{task_id}", WATCH_EVERY)
            try:
                current = await self.store.task(task_id)
                mine = (
                    current is not None
                    and current.status is Status.PROCESSING
                    and current.lease_owner == self.worker
                )
                if mine and time.monotonic() - last_renew >= renew_every:
                    mine = await self.store.renew(task_id, self.worker, self.lease)
                    last_renew = time.monotonic()
            except Exception as exc:
                log.warning("watching %s: %s; trying again", task_id, exc)
                continue
            if not mine:
                render.cancel()
                return

    async def _complete(self, task: TaskRecord, rendered: Rendered) -> None:
        name = f"{task.id}.{task.attempts}.mp4"
        size = await self.blobs.commit(rendered.path, name)
        usage = Usage(
            duration=rendered.duration + rendered.input_video_duration,
            input_video_duration=rendered.input_video_duration,
            output_video_duration=rendered.duration,
            video_count=1,
            SR=resolution_tier(rendered.width, rendered.height),
            ratio=task.shape.ratio,
        )
        result = StoredResult(
            blob=name,
            duration=rendered.duration,
            width=rendered.width,
            height=rendered.height,
            fps=rendered.fps,
            bytes=size,
        )
        await self.finisher.complete(task, self.worker, result, usage)
