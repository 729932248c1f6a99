"""Webhook delivery from the outbox: signed, retried with backoff, at least once."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx

from vidgate.clock import utcnow
from vidgate.netguard import BlockedAddress, GuardedFetcher
from vidgate.records import AttemptReport, Delivery
from vidgate.retry import retry_delay
from vidgate.store import Store
from vidgate.webhooks import new_secret, signature_headers

__all__ = ["Deliverer"]

log = logging.getLogger("vidgate.webhooks")
BATCH = 100
IDLE = 0.25
LEASE = timedelta(seconds=60)
MAX_CONCURRENT = 64


class Deliverer:
    """Sends due deliveries; each carries a stable `webhook-id`, so receivers can drop repeats."""

    def __init__(
        self,
        store: Store,
        fetcher: GuardedFetcher,
        worker: str,
        render: Callable[[Delivery], Awaitable[dict[str, Any]]],
        *,
        timeout: float,
        retry_window: float,
        retry_base: float,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.worker = worker
        self.render = render
        self.timeout = timeout
        self.retry_window = retry_window
        self.retry_base = retry_base
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._secrets: dict[str, str] = {}

    async def run(self, wake: Callable[[float], Awaitable[bool]]) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        while True:
            try:
                due = await self.store.claim_deliveries(self.worker, LEASE, BATCH)
            except Exception:
                log.exception("claiming deliveries failed")
                due = []
            for delivery in due:
                task = asyncio.create_task(self._send(delivery))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if len(due) < BATCH:
                await wake(IDLE)

    async def _secret(self, owner_id: str) -> str:
        secret = self._secrets.get(owner_id)
        if secret is None:
            key = await self.store.key_by_id(owner_id)
            secret = key.webhook_secret if key is not None else None
            if not secret:
                secret = await self.store.set_webhook_secret(owner_id, new_secret())
            self._secrets[owner_id] = secret
        return secret

    async def _send(self, delivery: Delivery) -> None:
        async with self._slots:
            payload = await self.render(delivery)
            body = json.dumps(payload, separators=(",", ":")).encode()
            stamp = int(time.time())
            secret = await self._secret(delivery.owner_id)
            headers = signature_headers(secret, delivery.id, stamp, body)
            started = time.monotonic()
            status: int | None = None
            error: str | None = None
            try:
                response = await self.fetcher.post(delivery.url, body, headers, self.timeout)
                status = response.status_code
                if not response.is_success:
                    error = f"receiver answered HTTP {status}"
            except BlockedAddress as exc:
                error = f"refused: {exc}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            elapsed = int((time.monotonic() - started) * 1000)
            if error is None:
                report = AttemptReport(status, None, elapsed, "delivered")
            else:
                age = (utcnow() - delivery.created_at).total_seconds()
                wait = retry_delay(delivery.attempts + 1, base=self.retry_base, cap=3600)
                if age + wait > self.retry_window:
                    report = AttemptReport(status, error, elapsed, "failed")
                else:
                    retry_at = utcnow() + timedelta(seconds=wait)
                    report = AttemptReport(status, error, elapsed, "pending", retry_at)
            await self.store.record_attempt(delivery.id, self.worker, report)
