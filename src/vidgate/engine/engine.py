"""The engine: dispatch per provider, polling of upstream tasks, and a reaper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from vidgate.blobs import BlobStore
from vidgate.blobs.signing import load_secret
from vidgate.clock import utcnow
from vidgate.engine.callbacks import UpstreamCallbacks
from vidgate.engine.deliver import Deliverer
from vidgate.engine.finish import Finisher
from vidgate.engine.poll import UpstreamPoller
from vidgate.engine.render import LocalRunner
from vidgate.engine.retention import purge_expired_results
from vidgate.engine.submit import UpstreamSubmitter
from vidgate.engine.sweep import UpstreamSweeper
from vidgate.logs import task_context
from vidgate.metrics import task_claimed, track_work
from vidgate.models import Status
from vidgate.notifier import Notifier
from vidgate.providers.registry import Providers
from vidgate.records import TaskRecord
from vidgate.settings import Settings
from vidgate.store import Store, StoreUnavailable

__all__ = ["Engine", "cancel_until_done"]

log = logging.getLogger("vidgate.engine")
REAP_EVERY = 2.0
POLL_BATCH = 500
POLL_IDLE = 0.25
POLL_LEASE = timedelta(seconds=120)
POLLS_WAKE = "polls"
"""The notifier key that wakes the poll loop when polls were brought forward."""
MAX_CONCURRENT_POLLS = 256
MAX_SUBMITTING = 32
CANCEL_AGAIN = 0.1
"""Seconds after which a loop that is still running is cancelled again."""
"""Upstream submits one process claims at once; the rest stay queued, unleased, for anyone."""


async def cancel_until_done(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for it to end, cancelling it again while it runs on.

    On Python 3.11 `asyncio.wait_for` swallows a cancel that arrives as the wait it guards
    completes, so a loop around one (in a library, say) can outlive a single cancel."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=CANCEL_AGAIN)
    if not task.cancelled():
        task.exception()  # retrieved: the loop's own error was logged where it happened


class Engine:
    """Claims tasks under a lease and runs them within each provider's limits."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        blobs: BlobStore,
        providers: Providers,
        notifier: Notifier,
        public_url: Callable[[str], str],
        deliverer: Deliverer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.providers = providers
        self.notifier = notifier
        self.worker = f"worker-{secrets.token_hex(6)}"
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.finisher = Finisher(store, blobs)
        self.blobs = blobs
        self.runner = LocalRunner(store, blobs, notifier, self.finisher, self.worker, self.lease)
        self.callbacks = UpstreamCallbacks(
            store,
            providers.upstream,
            load_secret(settings.data_dir, settings.secret_key),
            settings.public_url,
        )
        self.submitter = UpstreamSubmitter(
            store,
            self.finisher,
            self.worker,
            self.lease,
            providers.upstream,
            providers.route,
            public_url,
            self.callbacks,
        )
        self.sweepers = {
            name: UpstreamSweeper(store, provider, lambda: notifier.notify(POLLS_WAKE))
            for name, provider in providers.upstream.items()
            if UpstreamSweeper.available(provider)
        }
        self.poller = UpstreamPoller(
            store,
            blobs,
            self.finisher,
            self.worker,
            providers.upstream,
            settings.max_result_bytes,
            self.callbacks,
            self.sweepers,
        )
        self.deliverer = deliverer
        self._loops: list[asyncio.Task[None]] = []
        self._work: dict[asyncio.Task[None], str] = {}
        """Work in hand, by the id of the task it runs."""
        self._running: dict[str, int] = dict.fromkeys(providers.names(), 0)
        self._submitting: dict[str, int] = dict.fromkeys(providers.names(), 0)
        self._poll_slots = asyncio.Semaphore(MAX_CONCURRENT_POLLS)
        track_work(self)

    def work_in_hand(self) -> dict[tuple[str, str], int]:
        """Tasks this engine works on now, by provider and rendering, submitting or polling."""
        held: dict[tuple[str, str], int] = {}
        for name, running in self._running.items():
            if name in self.providers.upstream:
                held[(name, "submitting")] = self._submitting[name]
                held[(name, "polling")] = running - self._submitting[name]
            else:
                held[(name, "rendering")] = running
        return held

    async def start(self) -> None:
        for name in self.providers.names():
            self._loops.append(asyncio.create_task(self._dispatch(name), name=f"dispatch-{name}"))
        if self.providers.upstream:
            self._loops.append(asyncio.create_task(self._poll(), name="poll"))
        for name, sweeper in self.sweepers.items():
            self._loops.append(asyncio.create_task(sweeper.run(), name=f"sweep-{name}"))
        self._loops.append(asyncio.create_task(self._reap(), name="reap"))
        if self.deliverer is not None:
            deliver = self.deliverer.run(lambda seconds: self.notifier.wait("deliveries", seconds))
            self._loops.append(asyncio.create_task(deliver, name="deliver"))

    async def stop(self, drain: float = 0.0) -> None:
        """Stop claiming, give work in hand up to ``drain`` seconds to finish, then stop it
        and hand its tasks back to the queue uncounted, for another worker to take at once."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            await cancel_until_done(loop)
        self._loops.clear()
        if self._work and drain > 0:
            log.info("draining %d tasks for up to %gs", len(self._work), drain)
            await asyncio.wait(list(self._work), timeout=drain)
        unfinished = dict(self._work)
        for work in unfinished:
            work.cancel()
        for work in unfinished:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
        for task_id in unfinished.values():
            try:
                if await self.store.release(task_id, self.worker):
                    log.info("handed %s back to the queue", task_id)
            except Exception as exc:
                log.warning("could not hand %s back (its lease will lapse): %s", task_id, exc)

    def _spawn(
        self, name: str, task_id: str, work: Coroutine[Any, Any, None], *, frees: bool = True
    ) -> None:
        """Run ``work`` for a task of provider ``name``; when it ends, wake the provider's
        dispatch if it ``frees`` a place there (a poll does so itself, when it finishes a task)."""
        self._running[name] += 1
        task = asyncio.create_task(work, context=task_context(task_id, name))
        self._work[task] = task_id

        def done(finished: asyncio.Task[None]) -> None:
            self._work.pop(finished, None)
            self._running[name] -= 1
            if frees:
                self.notifier.notify(f"provider:{name}")
            if not finished.cancelled() and finished.exception() is not None:
                log.error("work for %s failed", name, exc_info=finished.exception())

        task.add_done_callback(done)

    async def _free_slots(self, name: str) -> int:
        limits = self.providers.limits(name)
        assert limits is not None
        if name in self.providers.upstream:
            free = limits.concurrency - await self.store.in_flight(name)
            return min(free, MAX_SUBMITTING - self._submitting[name])
        return limits.concurrency - self._running[name]

    async def _dispatch(self, name: str) -> None:
        wake = f"provider:{name}"
        while True:
            claimed: list[TaskRecord] = []
            try:
                free = await self._free_slots(name)
                if free > 0:
                    claimed = await self.store.claim(
                        name, self.worker, self.lease, free, self.settings.max_attempts
                    )
            except StoreUnavailable as exc:
                log.warning("claiming tasks for %s: %s", name, exc)
            except Exception:
                log.exception("claiming tasks for %s failed", name)
            for task in claimed:
                task_claimed(task)
                if name in self.providers.upstream:
                    self._submitting[name] += 1
                    self._spawn(name, task.id, self._submit(name, task))
                else:
                    self._spawn(name, task.id, self.runner.run(task, self.providers.local[name]))
            await self.notifier.wait(wake, 0.05 if claimed else self.settings.engine_idle_interval)

    async def _submit(self, name: str, task: TaskRecord) -> None:
        try:
            await self.submitter.submit(task)
        finally:
            self._submitting[name] -= 1

    async def _poll(self) -> None:
        names = list(self.providers.upstream)
        while True:
            claimed: list[TaskRecord] = []
            try:
                claimed = await self.store.claim_polls(names, self.worker, POLL_LEASE, POLL_BATCH)
            except StoreUnavailable as exc:
                log.warning("claiming polls: %s", exc)
            except Exception:
                log.exception("claiming polls failed")
            for task in claimed:
                self._spawn(task.provider, task.id, self._poll_one(task), frees=False)
            if len(claimed) < POLL_BATCH:
                await self.notifier.wait(POLLS_WAKE, POLL_IDLE)

    async def _poll_one(self, task: TaskRecord) -> None:
        finished = True  # unless the poll says otherwise: on an error, dispatch looks again
        try:
            async with self._poll_slots:
                finished = await self.poller.poll(task)
        finally:
            if finished:
                self.notifier.notify(f"provider:{task.provider}")

    async def _reap(self) -> None:
        while True:
            try:
                await self.reap_once()
            except StoreUnavailable as exc:
                log.warning("reaping: %s", exc)
            except Exception:
                log.exception("reaping failed")
            await asyncio.sleep(REAP_EVERY)

    async def reap_once(self) -> None:
        """Fail tasks past their deadline or out of attempts, refunding their quota; delete
        results kept past their retention."""
        deadline = utcnow() - timedelta(seconds=self.settings.task_deadline)
        active = (Status.QUEUED, Status.PROCESSING)
        for task in await self.store.overdue(deadline):
            message = "The task did not finish before its deadline."
            await self.finisher.fail(task.id, "timeout", message, worker=None, expected=active)
        for task in await self.store.exhausted(self.settings.max_attempts):
            message = f"The task was interrupted {task.attempts} times and was given up."
            await self.finisher.fail(task.id, "worker_lost", message, worker=None, expected=active)
        await purge_expired_results(self.store, self.blobs, self.settings.retention)
