"""Webhook delivery from the outbox: signed, retried with backoff, at least once.

Receivers are isolated from each other: every attempt has a total deadline, each destination
(scheme, host and port) gets at most a few attempts at once, and a destination that keeps
failing is skipped for a cool-down by its circuit breaker. Deliveries that must wait for
their destination wait outside the global slots, or are put back in the outbox for later.

The attempts run on an event loop of their own, in a thread: on the gateway's loop each step
of an HTTP exchange waits for a turn of that loop, which takes tens of milliseconds while
requests keep it busy, so a burst of events would be sent only once the burst is over. The
gateway's loop claims, renders and records (in batches); the sending loop only sends.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

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
"""Deliveries held in this process (sending or waiting) per global slot, at most."""
STOP_WAIT = 5.0
"""Seconds the sending loop gets to cancel its attempts and close its connections."""
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


@dataclass(frozen=True)
class _Prepared:
    """A held delivery with its body and the secret that signs it, ready to send."""

    held: _Held
    body: bytes
    secret: str


class _SendLoop:
    """An event loop in a thread of its own, where the attempts run."""

    def __init__(self, on_stop: Callable[[], Awaitable[None]]) -> None:
        self.loop = asyncio.new_event_loop()
        self._on_stop = on_stop
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self._shutdown())
        finally:
            self.loop.close()

    async def _shutdown(self) -> None:
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self._on_stop()
        await self.loop.shutdown_asyncgens()

    def submit(self, work: Coroutine[Any, Any, AttemptReport]) -> asyncio.Future[AttemptReport]:
        """Start ``work`` there; its outcome as a future of the calling loop."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))

    async def aclose(self) -> None:
        """Cancel the attempts in progress, await ``on_stop`` there, and end the thread;
        the calling loop goes on meanwhile."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join, STOP_WAIT)


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
        self._secrets: dict[str, str] = {}
        self._reports: list[tuple[str, AttemptReport]] = []
        self._reported = asyncio.Event()

    async def run(self, wake: Callable[[float], Awaitable[bool]]) -> None:
        in_flight: set[asyncio.Future[AttemptReport]] = set()
        lease = timedelta(seconds=self.limits.lease)
        most = self.limits.concurrency * HELD_PER_SLOT
        sender = _Sender(self, self.fetcher.twin())
        sending = _SendLoop(sender.fetcher.aclose)
        recording = asyncio.create_task(self._record(), name="deliver-record")
        try:
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
                    held = _Held(delivery, lease_ends)
                    prepared = await self._prepare(held)
                    if prepared is None:
                        continue
                    future = sending.submit(sender.send(prepared))
                    in_flight.add(future)
                    future.add_done_callback(in_flight.discard)
                    future.add_done_callback(functools.partial(self._sent, held))
                if len(due) < BATCH:
                    await wake(IDLE)
        finally:
            recording.cancel()
            await sending.aclose()
            if in_flight:  # their reports are queued once each has heard it was done
                await asyncio.wait(list(in_flight), timeout=STOP_WAIT)
            await self._flush()

    async def _prepare(self, held: _Held) -> _Prepared | None:
        """The delivery's body and secret; None (its lease lapses, to retry) if they fail."""
        delivery = held.delivery
        try:
            payload = await self.render(delivery)
            secret = await self._secret(delivery.owner_id)
        except StoreUnavailable as exc:
            log.warning("preparing delivery %s: %s", delivery.id, exc)
            return None
        except Exception:
            log.exception("preparing delivery %s failed", delivery.id)
            return None
        return _Prepared(held, json.dumps(payload, separators=(",", ":")).encode(), secret)

    def _sent(self, held: _Held, done: asyncio.Future[AttemptReport]) -> None:
        """Queue an attempt's report to be recorded; the lease lapses on an unexpected error."""
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            log.error("delivery %s failed unexpectedly", held.delivery.id, exc_info=error)
            return
        self._reports.append((held.delivery.id, done.result()))
        self._reported.set()

    async def _record(self) -> None:
        """Record the attempts reported since the last turn, up to `BATCH` a transaction."""
        while True:
            await self._reported.wait()
            self._reported.clear()
            await self._flush()

    async def _flush(self) -> None:
        reports, self._reports = self._reports, []
        for start in range(0, len(reports), BATCH):
            batch = reports[start : start + BATCH]
            try:
                await self.store.record_attempts(self.worker, batch)
            except StoreUnavailable as exc:
                # The leases lapse and the deliveries are claimed again: at least once holds.
                log.warning("recording %d delivery attempts: %s", len(batch), exc)
            except Exception:
                log.exception("recording %d delivery attempts failed", len(batch))

    async def _secret(self, owner_id: str) -> str:
        secret = self._secrets.get(owner_id)
        if secret is None:
            key = await self.store.key_by_id(owner_id)
            secret = key.webhook_secret if key is not None else None
            if not secret:
                secret = await self.store.set_webhook_secret(owner_id, new_secret())
            self._secrets[owner_id] = secret
        return secret


class _Sender:
    """The sending loop's side: each receiver's share and breaker, and the attempts."""

    def __init__(self, deliverer: Deliverer, fetcher: GuardedFetcher) -> None:
        self.fetcher = fetcher
        self.timeout = deliverer.timeout
        self.retry_window = deliverer.retry_window
        self.retry_base = deliverer.retry_base
        self.limits = deliverer.limits
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self._receivers: dict[str, _Receiver] = {}

    def _receiver(self, name: str) -> _Receiver:
        receiver = self._receivers.get(name)
        if receiver is None:
            if len(self._receivers) >= MAX_DESTINATIONS:
                now = time.monotonic()
                for other in [n for n, r in self._receivers.items() if r.idle(now)]:
                    del self._receivers[other]
            receiver = self._receivers[name] = _Receiver(self.limits.host_concurrency)
        return receiver

    async def send(self, prepared: _Prepared) -> AttemptReport:
        """Attempt one delivery within its receiver's share, or put it off; what became of it."""
        delivery = prepared.held.delivery
        name = destination(delivery.url)
        receiver = self._receiver(name)
        receiver.users += 1
        bind(task_id=delivery.task_id, key_id=delivery.owner_id)
        try:
            report = await self._through(prepared, receiver)
            webhook_attempt(delivery, report)
            return report
        finally:
            receiver.users -= 1
            if receiver.users == 0 and receiver.failures == 0:
                self._receivers.pop(name, None)

    def _wait_for(self, receiver: _Receiver, ahead: int) -> float:
        """Seconds until a delivery with ``ahead`` others before it would get a slot."""
        return (ahead // self.limits.host_concurrency) * receiver.typical

    async def _through(self, prepared: _Prepared, receiver: _Receiver) -> AttemptReport:
        """Wait for the receiver's share and a global slot, then attempt; or put it off."""
        limits = self.limits
        held = prepared.held
        if (skipped := self._skipped(receiver, held.delivery)) is not None:
            return skipped
        ahead = receiver.users - 1
        wait = self._wait_for(receiver, ahead)
        if time.monotonic() + wait + limits.attempt_timeout > held.lease_ends:
            return self._postponed(held.delivery, wait, f"{ahead} others ahead")
        async with receiver.slots:
            if (skipped := self._skipped(receiver, held.delivery)) is not None:
                return skipped
            async with self._slots:
                if time.monotonic() + limits.attempt_timeout > held.lease_ends:
                    return self._postponed(held.delivery, 0.0, "waited too long for a slot")
                status, error, elapsed = await self._attempt(prepared)
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

    async def _attempt(self, prepared: _Prepared) -> tuple[int | None, str | None, float]:
        import httpx  # loaded by the fetcher's first request, not by a gateway at start

        delivery, body = prepared.held.delivery, prepared.body
        headers = signature_headers(prepared.secret, delivery.id, int(time.time()), body)
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
