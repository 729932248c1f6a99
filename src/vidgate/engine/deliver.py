"""Webhook delivery from the outbox: signed, retried with backoff, at least once.

Receivers are isolated from each other: every attempt has a total deadline, each destination
(scheme, host and port) gets at most a few attempts at once, and a destination that keeps
failing is skipped for a cool-down by its circuit breaker. Deliveries that must wait for
their destination wait outside the global slots, or are put back in the outbox for later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from vidgate.clock import utcnow
from vidgate.logs import bind
from vidgate.metrics import webhook_attempt
from vidgate.netguard import MAX_ANSWER_BYTES, BlockedAddress, GuardedFetcher
from vidgate.records import AttemptReport, Delivery
from vidgate.retry import retry_delay
from vidgate.settings import Settings
from vidgate.store import Store, StoreUnavailable
from vidgate.webhooks import new_secret, signature_headers

__all__ = ["Deliverer", "DeliveryLimits", "destination"]

log = logging.getLogger("vidgate.webhooks")
BATCH = 100
IDLE = 0.25
HELD_PER_SLOT = 4
STORE_WRITERS = 8
"""Attempts recorded at once: well below the database pool, however many deliveries run."""
"""Deliveries held in this process (sending or waiting) per global slot, at most."""
MAX_DESTINATIONS = 10_000
"""Idle destinations beyond this many are forgotten, failure counts and all."""


@dataclass(frozen=True)
class DeliveryLimits:
    """How much of the deliverer one receiver may take; see docs/webhooks.md."""

    attempt_timeout: float = 15.0
    """Seconds for a whole attempt: connect, request, headers and the (capped) answer."""
    host_concurrency: int = 4
    concurrency: int = 256
    breaker_failures: int = 5
    breaker_cooldown: float = 60.0
    lease: float = 60.0
    max_answer: int = MAX_ANSWER_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryLimits:
        return cls(
            attempt_timeout=settings.webhook_attempt_timeout,
            host_concurrency=settings.webhook_host_concurrency,
            concurrency=settings.webhook_concurrency,
            breaker_failures=settings.webhook_breaker_failures,
            breaker_cooldown=settings.webhook_breaker_cooldown,
            lease=settings.webhook_lease,
        )


def destination(url: str) -> str:
    """The receiver a URL names, as `scheme://host:port`; its share and breaker go by this."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return parts.netloc.lower()
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class _Receiver:
    """One destination's slots, its circuit breaker and how long its attempts take."""

    def __init__(self, slots: int) -> None:
        self.slots = asyncio.Semaphore(slots)
        self.users = 0
        self.failures = 0
        self.open_until = 0.0
        self.typical = 0.0

    def idle(self, now: float) -> bool:
        return self.users == 0 and (self.failures == 0 or self.open_until <= now)


@dataclass(frozen=True)
class _Held:
    delivery: Delivery
    lease_ends: float


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
        limits: DeliveryLimits | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.worker = worker
        self.render = render
        self.timeout = timeout
        self.retry_window = retry_window
        self.retry_base = retry_base
        self.limits = limits or DeliveryLimits()
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self._writers = asyncio.Semaphore(STORE_WRITERS)
        self._receivers: dict[str, _Receiver] = {}
        self._secrets: dict[str, str] = {}

    async def run(self, wake: Callable[[float], Awaitable[bool]]) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        lease = timedelta(seconds=self.limits.lease)
        most = self.limits.concurrency * HELD_PER_SLOT
        while True:
            room = min(BATCH, most - len(in_flight))
            due: list[Delivery] = []
            lease_ends = time.monotonic() + self.limits.lease
            if room > 0:
                try:
                    due = await self.store.claim_deliveries(self.worker, lease, room)
                except StoreUnavailable as exc:
                    log.warning("claiming deliveries: %s", exc)
                except Exception:
                    log.exception("claiming deliveries failed")
            for delivery in due:
                task = asyncio.create_task(self._handle(_Held(delivery, lease_ends)))
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

    def _receiver(self, name: str) -> _Receiver:
        receiver = self._receivers.get(name)
        if receiver is None:
            if len(self._receivers) >= MAX_DESTINATIONS:
                now = time.monotonic()
                for other in [n for n, r in self._receivers.items() if r.idle(now)]:
                    del self._receivers[other]
            receiver = self._receivers[name] = _Receiver(self.limits.host_concurrency)
        return receiver

    async def _handle(self, held: _Held) -> None:
        name = destination(held.delivery.url)
        receiver = self._receiver(name)
        receiver.users += 1
        bind(task_id=held.delivery.task_id, key_id=held.delivery.owner_id)
        try:
            report = await self._through(held, receiver)
            webhook_attempt(held.delivery, report)
            async with self._writers:
                await self.store.record_attempt(held.delivery.id, self.worker, report)
        except StoreUnavailable as exc:
            # The lease lapses and the delivery is claimed again: at least once still holds.
            log.warning("recording delivery %s: %s", held.delivery.id, exc)
        except Exception:
            # The lease lapses and the delivery is claimed again: at least once still holds.
            log.exception("delivery %s failed unexpectedly", held.delivery.id)
        finally:
            receiver.users -= 1
            if receiver.users == 0 and receiver.failures == 0:
                self._receivers.pop(name, None)

    def _wait_for(self, receiver: _Receiver, ahead: int) -> float:
        """Seconds until a delivery with ``ahead`` others before it would get a slot."""
        return (ahead // self.limits.host_concurrency) * receiver.typical

    async def _through(self, held: _Held, receiver: _Receiver) -> AttemptReport:
        """Wait for the receiver's share and a global slot, then attempt; or put it off."""
        limits = self.limits
        if (skipped := self._skipped(receiver, held.delivery)) is not None:
            return skipped
        ahead = receiver.users - 1
        wait = self._wait_for(receiver, ahead)
        if time.monotonic() + wait + limits.attempt_timeout > held.lease_ends:
            return self._postponed(held.delivery, wait, f"{ahead} others ahead")
        async with receiver.slots:
            if (skipped := self._skipped(receiver, held.delivery)) is not None:
                return skipped
            payload = await self.render(held.delivery)
            async with self._slots:
                if time.monotonic() + limits.attempt_timeout > held.lease_ends:
                    return self._postponed(held.delivery, 0.0, "waited too long for a slot")
                status, error, elapsed = await self._attempt(held.delivery, payload)
            self._note(receiver, held.delivery, error, status, elapsed)
        if error is None:
            return AttemptReport(status, None, int(elapsed * 1000), "delivered")
        backoff = retry_delay(held.delivery.attempts + 1, base=self.retry_base, cap=3600)
        return self._later(held.delivery, status, error, int(elapsed * 1000), backoff)

    def _note(
        self,
        receiver: _Receiver,
        delivery: Delivery,
        error: str | None,
        status: int | None,
        elapsed: float,
    ) -> None:
        """Count the attempt towards the receiver's breaker and its typical duration."""
        limits = self.limits
        receiver.typical = (
            elapsed if not receiver.typical else 0.8 * receiver.typical + 0.2 * elapsed
        )
        if error is None:
            receiver.failures = 0
            receiver.open_until = 0.0
            return
        if status is None and error.startswith("refused:"):
            return  # the guard refused the address; the receiver was never reached
        receiver.failures += 1
        if receiver.failures < limits.breaker_failures:
            return
        # The pause doubles with each failure while open, like a delivery's own backoff.
        trips = receiver.failures - limits.breaker_failures + 1
        pause = retry_delay(trips, base=self.retry_base, cap=limits.breaker_cooldown)
        if trips == 1:
            log.warning(
                "webhook receiver %s failed %d times in a row; pausing its deliveries",
                destination(delivery.url),
                receiver.failures,
            )
        receiver.open_until = max(receiver.open_until, time.monotonic() + pause)

    async def _attempt(
        self, delivery: Delivery, payload: dict[str, Any]
    ) -> tuple[int | None, str | None, float]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        stamp = int(time.time())
        secret = await self._secret(delivery.owner_id)
        headers = signature_headers(secret, delivery.id, stamp, body)
        deadline = self.limits.attempt_timeout
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(deadline):
                answer = await self.fetcher.post(
                    delivery.url, body, headers, self.timeout, max_answer=self.limits.max_answer
                )
            status = answer.status_code
            if not answer.is_success:
                error = f"receiver answered HTTP {status}"
        except BlockedAddress as exc:
            error = f"refused: {exc}"
        except TimeoutError:
            error = f"no complete answer within {deadline:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
        return status, error, time.monotonic() - started

    def _skipped(self, receiver: _Receiver, delivery: Delivery) -> AttemptReport | None:
        """While the receiver's breaker is open its deliveries wait for the cool-down's end."""
        left = receiver.open_until - time.monotonic()
        if left <= 0:
            return None
        jitter = random.uniform(0, 0.1 * left)
        error = f"skipped: receiver failed {receiver.failures} times in a row and is paused"
        return self._later(delivery, None, error, 0, left + jitter)

    def _postponed(self, delivery: Delivery, wait: float, why: str) -> AttemptReport:
        return self._later(delivery, None, f"postponed: receiver busy ({why})", 0, max(wait, IDLE))

    def _later(
        self, delivery: Delivery, status: int | None, error: str, elapsed_ms: int, wait: float
    ) -> AttemptReport:
        """Try again after ``wait`` seconds, unless that is past the retry window."""
        age = (utcnow() - delivery.created_at).total_seconds()
        if age + wait > self.retry_window:
            return AttemptReport(status, error, elapsed_ms, "failed")
        retry_at = utcnow() + timedelta(seconds=wait)
        return AttemptReport(status, error, elapsed_ms, "pending", retry_at)
