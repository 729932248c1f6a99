"""Tasks at upstream providers: submit with failover, poll on schedule, archive the result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from vidgate.blobs import BlobStore
from vidgate.clock import utcnow
from vidgate.engine.archive import archive_result
from vidgate.engine.schedule import expected_window, next_poll_delay, retry_delay
from vidgate.models import Status, Task, VideoRequest
from vidgate.notifier import Notifier
from vidgate.providers.dashscope import DashScopeAdapter, shape_parameters
from vidgate.providers.upstream import UpstreamError, UpstreamProvider
from vidgate.store import Store
from vidgate.store.store import Row

__all__ = ["UpstreamRunner", "upstream_request"]

log = logging.getLogger("vidgate.engine")
MAX_SUBMIT_ROUNDS = 8
MAX_ARCHIVE_FAILURES = 5
MAX_POLL_FAILURES = 200
FAILOVER_KINDS = ("throttled", "transient", "refused")
REQUEST_FIELDS = set(VideoRequest.model_fields) - {"callback_url", "metadata"}


def upstream_request(row: Row, public_url: Callable[[str], str]) -> VideoRequest:
    """The canonical request to send upstream; inputs it cannot fetch become signed URLs."""
    stored = row["request"]
    fields: dict[str, Any] = {k: v for k, v in stored.items() if k in REQUEST_FIELDS}
    for name, items in stored.get("inputs", {}).items():
        original = fields.get(name)
        originals = original if isinstance(original, list) else [original]
        urls = [
            url
            if isinstance(url, str) and url.startswith(("http://", "https://"))
            else public_url(item["blob"])
            for url, item in zip(originals, items, strict=False)
        ]
        fields[name] = urls if isinstance(original, list) else urls[0]
    return VideoRequest.model_validate(fields)


class UpstreamRunner:
    """Drives one task's upstream life; every outcome is recorded through compare-and-set."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        notifier: Notifier,
        worker: str,
        lease: timedelta,
        providers: dict[str, UpstreamProvider],
        routes: Callable[[str], list[str]],
        public_url: Callable[[str], str],
        max_result_bytes: int,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.notifier = notifier
        self.worker = worker
        self.lease = lease
        self.providers = providers
        self.routes = routes
        self.public_url = public_url
        self.max_result_bytes = max_result_bytes

    def _candidates(self, row: Row) -> list[str]:
        route = [name for name in self.routes(row["model"]) if name in self.providers]
        first = row["provider"]
        return [first] + [n for n in route if n != first] if first in self.providers else route

    def _first_poll(self, row: Row, provider: UpstreamProvider) -> datetime:
        resolved = row["request"]["resolved"]
        low, _ = expected_window(row["mode"], resolved["duration"], resolved["resolution"])
        delay = next_poll_delay(
            0.0,
            expected_low=low * provider.config.expected_time_scale,
            interval=provider.config.poll_interval,
            max_interval=provider.config.max_poll_interval,
        )
        return utcnow() + timedelta(seconds=delay)

    async def submit(self, row: Row) -> None:
        """Submit to the first provider of the route that accepts, retrying throttled rounds."""
        task_id = row["id"]
        request = upstream_request(row, self.public_url)
        for round_number in range(1, MAX_SUBMIT_ROUNDS + 1):
            last: UpstreamError | None = None
            for name in self._candidates(row):
                provider = self.providers[name]
                if not await self.store.renew(task_id, self.worker, self.lease):
                    return
                busy = name != row["provider"] and (
                    await self.store.in_flight(name) >= provider.limits.concurrency
                )
                if busy:
                    continue
                shaped = request
                if isinstance(provider.adapter, DashScopeAdapter):
                    shaped = shape_parameters(request, row["request"]["resolved"])
                try:
                    accepted = await provider.submit(shaped)
                except UpstreamError as exc:
                    if exc.kind not in FAILOVER_KINDS:
                        await self._finish(task_id, Status.FAILED, exc.code, exc.message)
                        return
                    log.info("task %s: %s refused the submit: %s", task_id, name, exc)
                    last = exc
                    continue
                recorded = await self.store.record_upstream(
                    task_id,
                    self.worker,
                    provider=name,
                    upstream_id=accepted.upstream_id,
                    credential=accepted.credential,
                    next_poll_at=self._first_poll(row, provider),
                )
                if not recorded:
                    await provider.cancel(accepted.upstream_id, accepted.credential)
                self.notifier.notify(f"task:{task_id}")
                return
            wait = retry_delay(
                round_number,
                base=min(
                    (self.providers[n].config.poll_interval for n in self._candidates(row)),
                    default=1.0,
                ),
                retry_after=last.retry_after if last else None,
            )
            if not await self.store.renew(
                task_id, self.worker, self.lease + timedelta(seconds=wait)
            ):
                return
            await asyncio.sleep(wait)
        message = str(last) if last else "no provider had capacity"
        await self._finish(task_id, Status.FAILED, "upstream_unavailable", message)

    async def poll(self, row: Row) -> None:
        """Poll once; finish the task, or schedule its next poll."""
        provider = self.providers.get(row["provider"])
        if provider is None:
            return
        task_id = row["id"]
        try:
            polled = await provider.poll(row["upstream_id"], row["credential"])
        except UpstreamError as exc:
            await self._poll_failed(row, provider, exc)
            return
        snapshot = polled.task
        if snapshot.status is Status.COMPLETED:
            await self._complete(row, provider, snapshot)
        elif snapshot.status in (Status.FAILED, Status.CANCELLED):
            error = snapshot.error
            await self._finish(
                task_id,
                snapshot.status,
                error.code if error else "upstream_failed",
                error.message if error else "The upstream task failed.",
            )
        else:
            if snapshot.progress and snapshot.progress < 100:
                await self.store.set_progress(task_id, self.worker, snapshot.progress)
            await self._schedule(row, provider, snapshot.raw_status, hint=polled.hint)
            self.notifier.notify(f"task:{task_id}")

    async def _schedule(
        self,
        row: Row,
        provider: UpstreamProvider,
        raw_status: str | None,
        *,
        hint: float | None = None,
        failed: bool = False,
        retry_after: float | None = None,
    ) -> None:
        elapsed = (utcnow() - (row["started_at"] or row["created_at"])).total_seconds()
        resolved = row["request"]["resolved"]
        low, _ = expected_window(row["mode"], resolved["duration"], resolved["resolution"])
        if failed:
            delay = retry_delay(
                row["poll_failures"] + 1,
                base=provider.config.poll_interval,
                cap=provider.config.max_poll_interval,
                retry_after=retry_after,
            )
        else:
            delay = next_poll_delay(
                elapsed,
                expected_low=low * provider.config.expected_time_scale,
                interval=provider.config.poll_interval,
                max_interval=provider.config.max_poll_interval,
                hint=hint,
            )
        await self.store.reschedule(
            row["id"],
            self.worker,
            next_poll_at=utcnow() + timedelta(seconds=delay),
            upstream_status=raw_status,
            failed_poll=failed,
        )

    async def _poll_failed(self, row: Row, provider: UpstreamProvider, exc: UpstreamError) -> None:
        if row["poll_failures"] + 1 >= MAX_POLL_FAILURES:
            await self._finish(row["id"], Status.FAILED, exc.code, exc.message)
            return
        log.info("task %s: poll failed (%s)", row["id"], exc)
        await self._schedule(row, provider, None, failed=True, retry_after=exc.retry_after)

    async def _complete(self, row: Row, provider: UpstreamProvider, snapshot: Task) -> None:
        task_id = row["id"]
        given = snapshot.result.video_url if snapshot.result else None
        try:
            result, usage = await archive_result(
                self.blobs, provider, row, given, snapshot.usage, self.max_result_bytes
            )
        except UpstreamError as exc:
            if row["poll_failures"] + 1 >= MAX_ARCHIVE_FAILURES:
                await self._finish(
                    task_id,
                    Status.FAILED,
                    "result_unavailable",
                    f"The result could not be stored: {exc.message}",
                )
                return
            await self._schedule(row, provider, snapshot.raw_status, failed=True)
            return
        changed = await self.store.transition(
            task_id,
            expected=[Status.PROCESSING],
            to=Status.COMPLETED,
            worker=self.worker,
            values={
                "result": result,
                "usage": usage,
                "progress": 100,
                "upstream_status": snapshot.raw_status,
            },
            settle_seconds=usage["duration"],
        )
        if changed is None:
            self.blobs.delete(result["blob"])
        else:
            self.notifier.notify(f"task:{task_id}")

    async def _finish(self, task_id: str, status: Status, code: str, message: str) -> None:
        changed = await self.store.transition(
            task_id,
            expected=[Status.PROCESSING],
            to=status,
            worker=self.worker,
            values={"error": {"code": code, "message": message}},
        )
        if changed is not None:
            self.notifier.notify(f"task:{task_id}")
