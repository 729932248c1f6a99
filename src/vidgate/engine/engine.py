"""The engine: dispatch loops per provider and a reaper, inside the gateway or a worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import timedelta

from vidgate.blobs import BlobStore
from vidgate.clock import utcnow
from vidgate.engine.run import TaskRunner
from vidgate.models import Status
from vidgate.notifier import Notifier
from vidgate.providers.base import Provider
from vidgate.settings import Settings
from vidgate.store import Store
from vidgate.store.store import Row

__all__ = ["Engine"]

log = logging.getLogger("vidgate.engine")
REAP_EVERY = 2.0


class Engine:
    """Claims queued tasks under a lease and runs them within each provider's concurrency."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        blobs: BlobStore,
        providers: dict[str, Provider],
        notifier: Notifier,
    ) -> None:
        self.settings = settings
        self.store = store
        self.providers = providers
        self.notifier = notifier
        self.worker = f"worker-{secrets.token_hex(6)}"
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.runner = TaskRunner(store, blobs, notifier, self.worker, self.lease)
        self._loops: list[asyncio.Task[None]] = []
        self._running: dict[str, set[asyncio.Task[None]]] = {name: set() for name in providers}

    async def start(self) -> None:
        for name in self.providers:
            self._loops.append(asyncio.create_task(self._dispatch(name), name=f"dispatch-{name}"))
        self._loops.append(asyncio.create_task(self._reap(), name="reap"))

    async def stop(self) -> None:
        """Stop claiming and abandon running renders; their leases let another worker resume."""
        tasks = [*self._loops, *(t for group in self._running.values() for t in group)]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops.clear()

    async def _dispatch(self, name: str) -> None:
        provider = self.providers[name]
        running = self._running[name]
        wake = f"provider:{name}"
        while True:
            free = provider.limits.concurrency - len(running)
            claimed = []
            if free > 0:
                try:
                    claimed = await self.store.claim(
                        name, self.worker, self.lease, free, self.settings.max_attempts
                    )
                except Exception:
                    log.exception("claiming tasks for %s failed", name)
            for row in claimed:
                self.notifier.notify(f"task:{row['id']}")
                task = asyncio.create_task(self._run(name, provider, row))
                running.add(task)
                task.add_done_callback(running.discard)
            if claimed and len(claimed) == free:
                await self.notifier.wait(wake, 0.05)
            else:
                await self.notifier.wait(wake, self.settings.engine_idle_interval)

    async def _run(self, name: str, provider: Provider, row: Row) -> None:
        try:
            await self.runner.run(row, provider)
        finally:
            self.notifier.notify(f"provider:{name}")

    async def _reap(self) -> None:
        while True:
            try:
                await self.reap_once()
            except Exception:
                log.exception("reaping failed")
            await asyncio.sleep(REAP_EVERY)

    async def reap_once(self) -> None:
        """Fail tasks past their deadline or out of attempts, refunding their quota."""
        deadline = utcnow() - timedelta(seconds=self.settings.task_deadline)
        for row in await self.store.overdue(deadline):
            await self._fail(row["id"], "timeout", "The task did not finish before its deadline.")
        for row in await self.store.exhausted(self.settings.max_attempts):
            await self._fail(
                row["id"],
                "worker_lost",
                f"The task was interrupted {row['attempts']} times and was given up.",
            )

    async def _fail(self, task_id: str, code: str, message: str) -> None:
        changed = await self.store.transition(
            task_id,
            expected=[Status.QUEUED, Status.PROCESSING],
            to=Status.FAILED,
            values={"error": {"code": code, "message": message}},
        )
        if changed is not None:
            self.notifier.notify(f"task:{task_id}")
