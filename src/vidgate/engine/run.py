"""Running one claimed task on its provider, under a lease, to a terminal status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from vidgate.blobs import BlobStore
from vidgate.catalog import SIZES
from vidgate.models import Status
from vidgate.notifier import Notifier
from vidgate.providers.base import Job, Provider, ProviderError, Rendered
from vidgate.store import Store
from vidgate.store.store import Row

__all__ = ["TaskRunner", "job_from_row"]

log = logging.getLogger("vidgate.engine")
PROGRESS_EVERY = 0.5
WATCH_EVERY = 1.0


def job_from_row(row: Row, blobs: BlobStore) -> Job:
    """The provider's view of a stored task."""
    request = dict(row["request"])
    resolved = request["resolved"]
    inputs = {
        name: [blobs.path(item["blob"]) for item in items]
        for name, items in request.get("inputs", {}).items()
    }
    return Job(
        task_id=row["id"],
        model=row["model"],
        mode=row["mode"],
        prompt=request.get("prompt", ""),
        width=resolved["width"],
        height=resolved["height"],
        fps=resolved["fps"],
        duration=resolved["duration"],
        seed=resolved["seed"],
        request=request,
        inputs=inputs,
    )


def _tier(rendered: Rendered) -> int:
    size = (rendered.width, rendered.height)
    for tier, sizes in SIZES.items():
        if size in sizes.values():
            return int(tier.rstrip("P"))
    return min(size)


class TaskRunner:
    """Runs a task, keeps its lease alive, and records how it ended exactly once."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        notifier: Notifier,
        worker: str,
        lease: timedelta,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.notifier = notifier
        self.worker = worker
        self.lease = lease

    async def run(self, row: Row, provider: Provider) -> None:
        task_id = row["id"]
        job = job_from_row(row, self.blobs)
        staged = self.blobs.staging(task_id, ".mp4")
        last_report = 0.0

        async def report(percent: int) -> None:
            nonlocal last_report
            now = time.monotonic()
            if percent < 100 and now - last_report < PROGRESS_EVERY:
                return
            last_report = now
            if await self.store.set_progress(task_id, self.worker, min(percent, 99)):
                self.notifier.notify(f"task:{task_id}")

        render = asyncio.create_task(provider.run(job, staged, report))
        watcher = asyncio.create_task(self._watch(task_id, render))
        try:
            rendered = await render
        except asyncio.CancelledError:
            staged.unlink(missing_ok=True)
            if not render.cancelled():
                raise
            return
        except ProviderError as exc:
            await self._finish_failed(task_id, exc.code, exc.message)
            return
        except Exception as exc:
            log.exception("task %s failed in provider %s", task_id, provider.name)
            await self._finish_failed(task_id, "render_failed", f"{type(exc).__name__}: {exc}")
            return
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await self._finish_completed(row, rendered)

    async def _watch(self, task_id: str, render: asyncio.Task[Rendered]) -> None:
        """Renew the lease; stop the render once the task is cancelled or taken over."""
        renew_every = self.lease.total_seconds() / 3
        last_renew = time.monotonic()
        while not render.done():
            await self.notifier.wait(f"task:{task_id}", WATCH_EVERY)
            current = await self.store.task(task_id)
            mine = (
                current is not None
                and current["status"] == Status.PROCESSING.value
                and current["lease_owner"] == self.worker
            )
            if mine and time.monotonic() - last_renew >= renew_every:
                mine = await self.store.renew(task_id, self.worker, self.lease)
                last_renew = time.monotonic()
            if not mine:
                render.cancel()
                return

    async def _finish_failed(self, task_id: str, code: str, message: str) -> None:
        changed = await self.store.transition(
            task_id,
            expected=[Status.PROCESSING],
            to=Status.FAILED,
            worker=self.worker,
            values={"error": {"code": code, "message": message}},
        )
        if changed is not None:
            self.notifier.notify(f"task:{task_id}")

    async def _finish_completed(self, row: Row, rendered: Rendered) -> None:
        task_id = row["id"]
        name = f"{task_id}.{row['attempts']}.mp4"
        self.blobs.commit(rendered.path, name)
        resolved = row["request"]["resolved"]
        usage = {
            "duration": rendered.duration + rendered.input_video_duration,
            "input_video_duration": rendered.input_video_duration,
            "output_video_duration": rendered.duration,
            "video_count": 1,
            "SR": _tier(rendered),
            "ratio": resolved["ratio"],
        }
        result = {
            "blob": name,
            "duration": rendered.duration,
            "width": rendered.width,
            "height": rendered.height,
            "fps": rendered.fps,
            "bytes": self.blobs.path(name).stat().st_size,
        }
        changed = await self.store.transition(
            task_id,
            expected=[Status.PROCESSING],
            to=Status.COMPLETED,
            worker=self.worker,
            values={"result": result, "usage": usage, "progress": 100},
            settle_seconds=usage["duration"],
        )
        if changed is None:
            self.blobs.delete(name)
        else:
            self.notifier.notify(f"task:{task_id}")
