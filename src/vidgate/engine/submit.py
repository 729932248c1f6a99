"""Submitting tasks upstream: the first provider of the model's route that accepts, in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from vidgate.clock import utcnow
from vidgate.engine.callbacks import UpstreamCallbacks
from vidgate.engine.finish import Finisher
from vidgate.engine.schedule import expected_window, next_poll_delay
from vidgate.models import VideoRequest
from vidgate.providers.upstream import UpstreamError, UpstreamProvider
from vidgate.records import TaskRecord, UpstreamAcceptance
from vidgate.retry import retry_delay
from vidgate.store import Store

__all__ = ["UpstreamSubmitter", "upstream_request"]

log = logging.getLogger("vidgate.engine")
MAX_SUBMIT_ROUNDS = 8
FAILOVER_KINDS = ("throttled", "transient", "refused")
PRIVATE_FIELDS = ("callback_url", "webhook_events", "metadata")
"""Fields that concern this gateway's own clients, never an upstream."""


def upstream_request(task: TaskRecord, public_url: Callable[[str], str]) -> VideoRequest:
    """The canonical request to send upstream; inputs it cannot fetch become signed URLs."""
    changes: dict[str, Any] = dict.fromkeys(PRIVATE_FIELDS)
    request = task.request
    for name in {item.field for item in task.inputs}:
        original = getattr(request, name)
        originals = original if isinstance(original, list) else [original]
        urls = [
            url
            if isinstance(url, str) and url.startswith(("http://", "https://"))
            else public_url(item.blob)
            for url, item in zip(originals, task.inputs_of(name), strict=False)
        ]
        changes[name] = urls if isinstance(original, list) else urls[0]
    return request.model_copy(update=changes)


def first_poll_at(task: TaskRecord, provider: UpstreamProvider, factor: float = 1.0) -> datetime:
    """When to look at a just-accepted task first: about half its expected time from now,
    `factor` times later where a callback is expected."""
    low, _ = expected_window(task.mode, task.shape.duration, task.shape.resolution, task.model)
    delay = next_poll_delay(
        0.0,
        expected_low=low * provider.config.expected_time_scale,
        interval=provider.config.poll_interval,
        max_interval=provider.config.max_poll_interval,
    )
    return utcnow() + timedelta(seconds=delay * factor)


class UpstreamSubmitter:
    """Submits a claimed task with failover; once an upstream accepts it, it never moves."""

    def __init__(
        self,
        store: Store,
        finisher: Finisher,
        worker: str,
        lease: timedelta,
        providers: dict[str, UpstreamProvider],
        routes: Callable[[str], list[str]],
        public_url: Callable[[str], str],
        callbacks: UpstreamCallbacks | None = None,
    ) -> None:
        self.store = store
        self.finisher = finisher
        self.worker = worker
        self.lease = lease
        self.providers = providers
        self.routes = routes
        self.public_url = public_url
        self.callbacks = callbacks

    def _candidates(self, task: TaskRecord) -> list[str]:
        route = [name for name in self.routes(task.model) if name in self.providers]
        first = task.provider
        return [first] + [n for n in route if n != first] if first in self.providers else route

    async def submit(self, task: TaskRecord) -> None:
        """Submit to the first provider of the route that accepts, retrying throttled rounds."""
        request = upstream_request(task, self.public_url)
        last: UpstreamError | None = None
        for round_number in range(1, MAX_SUBMIT_ROUNDS + 1):
            for name in self._candidates(task):
                provider = self.providers[name]
                if not await self.store.renew(task.id, self.worker, self.lease):
                    return
                busy = name != task.provider and (
                    await self.store.in_flight(name) >= provider.limits.concurrency
                )
                if busy:
                    continue
                callback = self.callbacks.url_for(name, task.id) if self.callbacks else None
                try:
                    accepted = await provider.submit(request, task.shape, callback)
                except UpstreamError as exc:
                    if exc.kind not in FAILOVER_KINDS:
                        await self.finisher.fail(task.id, exc.code, exc.message, worker=self.worker)
                        return
                    log.info("task %s: %s refused the submit: %s", task.id, name, exc)
                    last = exc
                    continue
                factor = provider.config.callback_poll_factor if callback else 1.0
                pin = UpstreamAcceptance(
                    name,
                    accepted.upstream_id,
                    accepted.credential,
                    first_poll_at(task, provider, factor),
                )
                recorded = await self.store.record_upstream(task.id, self.worker, pin)
                if not recorded:
                    await provider.cancel(accepted.upstream_id, accepted.credential)
                return
            wait = retry_delay(
                round_number,
                base=min(
                    (self.providers[n].config.poll_interval for n in self._candidates(task)),
                    default=1.0,
                ),
                retry_after=last.retry_after if last else None,
            )
            if not await self.store.renew(
                task.id, self.worker, self.lease + timedelta(seconds=wait)
            ):
                return
            await asyncio.sleep(wait)
        message = str(last) if last else "no provider had capacity"
        await self.finisher.fail(task.id, "upstream_unavailable", message, worker=self.worker)
