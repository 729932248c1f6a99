"""Upstream callbacks: a wake-up, not a truth.

vidgate gives each upstream task its own callback URL, with a token only vidgate can make. A
callback the provider signs (Replicate, fal) and that checks out carries the task's outcome,
which the next poll takes instead of asking the upstream; any other callback only brings that
poll forward. MiniMax first checks its URL with a `{"challenge": …}`, echoed back to it.
Polling stays the safety net, slower while a callback is expected."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vidgate.clock import utcnow
from vidgate.hosted_callbacks import callback_token, verify_fal, verify_standard
from vidgate.models import Result, Status, Task, TaskError
from vidgate.providers.upstream import UpstreamError, UpstreamProvider
from vidgate.records import TaskRecord
from vidgate.store import Store

__all__ = ["CALLBACK_PATH", "CallbackOutcome", "UpstreamCallbacks"]

log = logging.getLogger("vidgate.engine")
CALLBACK_PATH = "/v1/upstream-callbacks"
BURST = 10
"""Callbacks one task may send per `WINDOW` seconds; more are answered 429."""
WINDOW = 60.0
KEYS_TTL = 600.0
"""Seconds a fetched signing secret or JWKS is used before it is fetched again."""
MAX_OUTCOMES = 10_000
PIN_WAIT = 3.0
"""Seconds a callback waits for its task's submit to be recorded."""
REFETCH_AFTER = 30.0
"""A signature that fails with cached keys refetches them, at most this often."""
CHALLENGE_KINDS = frozenset({"minimax"})
"""Provider kinds that check a callback URL first by asking for a challenge to be echoed."""
MAX_CHALLENGE = 1024


@dataclass(frozen=True)
class CallbackOutcome:
    """What the callback route answers: an HTTP status and a short word, or the challenge
    to echo back to an upstream that is checking its callback URL."""

    status: int
    outcome: str
    challenge: str | None = None


class UpstreamCallbacks:
    """Callback URLs for upstream tasks, their checks, and the outcomes they carried."""

    def __init__(
        self,
        store: Store,
        providers: dict[str, UpstreamProvider],
        secret: bytes,
        public_url: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.providers = providers
        self.secret = secret.decode()
        self.public_url = public_url.rstrip("/") if public_url else None
        self.clock = clock
        self._outcomes: dict[str, Task] = {}
        self._hits: dict[str, list[float]] = {}
        self._keys: dict[tuple[str, str], tuple[float, Any]] = {}

    def expected(self, provider: UpstreamProvider) -> bool:
        """Whether tasks at this provider are given a callback URL."""
        return bool(
            self.public_url and provider.config.callbacks and provider.dialect.callback_field
        )

    def url_for(self, name: str, task_id: str) -> str | None:
        """The callback URL to register for a task, or None when none is expected."""
        provider = self.providers.get(name)
        if provider is None or not self.expected(provider):
            return None
        token = callback_token(self.secret, name, task_id)
        return f"{self.public_url}{CALLBACK_PATH}/{name}/{task_id}/{token}"

    def take(self, task_id: str) -> Task | None:
        """The verified outcome a callback brought for this task, once."""
        return self._outcomes.pop(task_id, None)

    def _limited(self, key: str) -> bool:
        now = self.clock()
        hits = [t for t in self._hits.get(key, []) if now - t < WINDOW]
        limited = len(hits) >= BURST
        if not limited:
            hits.append(now)
        self._hits[key] = hits
        if len(self._hits) > 10_000:
            self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < WINDOW}
        return limited

    async def receive(
        self, name: str, task_id: str, token: str, headers: Mapping[str, str], body: bytes
    ) -> CallbackOutcome:
        """Check one callback and act on it; the answer never says more than needed."""
        provider = self.providers.get(name)
        expected = callback_token(self.secret, name, task_id)
        if provider is None or not hmac.compare_digest(token, expected):
            return CallbackOutcome(404, "unknown")
        if self._limited(f"{name}/{task_id}"):
            return CallbackOutcome(429, "rate_limited")
        if provider.config.kind in CHALLENGE_KINDS:
            challenge = _challenge(body)
            if challenge is not None:
                # Sent while the submit is still in flight: answered before the task is read.
                return CallbackOutcome(200, "challenge", challenge)
        task = await self._pinned(task_id)
        if (
            task is None
            or task.provider != name
            or task.status is not Status.PROCESSING
            or task.upstream_id is None
            or task.credential is None
        ):
            return CallbackOutcome(200, "ignored")
        try:
            outcome = await self._verified(
                provider, task.upstream_id, task.credential, headers, body
            )
        except UpstreamError as exc:
            log.info("task %s: callback keys unavailable (%s); polling instead", task_id, exc)
            outcome = None
        if outcome is False:
            return CallbackOutcome(401, "bad_signature")
        if isinstance(outcome, Task) and outcome.status.terminal:
            if len(self._outcomes) >= MAX_OUTCOMES:
                # Outcomes of tasks that another node polled are never taken here.
                self._outcomes.pop(next(iter(self._outcomes)))
            self._outcomes[task_id] = outcome
        await self.store.expedite_poll(task_id, utcnow())
        return CallbackOutcome(200, "accepted" if isinstance(outcome, Task) else "hint")

    async def _pinned(self, task_id: str) -> TaskRecord | None:
        """The task, waiting a moment for its upstream id where the callback overtook the
        answer to the submit (Replicate's `Prefer: wait` can end with both at once)."""
        deadline = self.clock() + PIN_WAIT
        while True:
            task = await self.store.task(task_id)
            pending = task is not None and task.status is Status.PROCESSING and not task.upstream_id
            if not pending or self.clock() >= deadline:
                return task
            await asyncio.sleep(0.05)

    async def _verified(
        self,
        provider: UpstreamProvider,
        upstream_id: str,
        credential: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Task | bool | None:
        """The task a signed callback reports; False for a bad signature; None when unsigned."""
        kind = provider.config.kind
        if kind == "replicate" and headers.get("webhook-signature"):
            return await self._replicate(provider, upstream_id, credential, headers, body)
        if kind == "fal" and headers.get("x-fal-webhook-signature"):
            return await self._fal(provider, upstream_id, headers, body)
        return None

    async def _keys_for(
        self, provider: UpstreamProvider, slot: str, fetch: Callable[[], Any], stale: bool
    ) -> Any:
        key = (provider.name, slot)
        cached = self._keys.get(key)
        now = self.clock()
        if cached is not None:
            age = now - cached[0]
            if age < KEYS_TTL and not (stale and age > REFETCH_AFTER):
                return cached[1]
        value = await fetch()
        self._keys[key] = (now, value)
        return value

    async def _replicate(
        self,
        provider: UpstreamProvider,
        upstream_id: str,
        credential: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Task | bool:
        from vidgate.dialects.replicate_outbound import ReplicateOutbound  # its provider's

        dialect = provider.dialect
        assert isinstance(dialect, ReplicateOutbound)

        async def fetch() -> str:
            answer = await provider.fetch(dialect.secret(), credential)
            return str(answer.get("key", "")) if isinstance(answer, dict) else ""

        now = self.clock()
        for stale in (False, True):
            secret = await self._keys_for(provider, f"secret:{credential}", fetch, stale)
            if secret and verify_standard(secret, headers, body, now):
                break
        else:
            return False
        try:
            task = dialect.parse(json.loads(body))
        except (ValueError, TypeError):
            return False
        return task if task.task_id == upstream_id else False

    async def _fal(
        self, provider: UpstreamProvider, upstream_id: str, headers: Mapping[str, str], body: bytes
    ) -> Task | bool:
        async def fetch() -> Any:
            import httpx  # only for a provider that calls back

            try:
                async with httpx.AsyncClient(timeout=provider.config.timeout) as client:
                    answer = await client.get(provider.config.callback_jwks_url)
                    answer.raise_for_status()
                    return answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise UpstreamError("transient", "jwks_unavailable", str(exc)) from exc

        now = self.clock()
        for stale in (False, True):
            jwks = await self._keys_for(provider, "jwks", fetch, stale)
            if isinstance(jwks, dict) and verify_fal(jwks, headers, body, now):
                break
        else:
            return False
        from vidgate.dialects.fal_outbound import split_id  # loaded with its provider

        _, request_id = split_id(upstream_id)
        if headers.get("x-fal-webhook-request-id") != request_id:
            return False
        try:
            data = json.loads(body)
        except ValueError:
            return False
        return _fal_task(upstream_id, data if isinstance(data, dict) else {})


def _challenge(body: bytes) -> str | None:
    """The value of a `{"challenge": "…"}` body, or None for any other body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("challenge") if isinstance(data, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= MAX_CHALLENGE else None


def _fal_task(upstream_id: str, data: dict[str, Any]) -> Task:
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    assert isinstance(payload, dict)
    video = payload.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    if data.get("status") == "OK" and isinstance(url, str) and url:
        return Task(
            task_id=upstream_id,
            status=Status.COMPLETED,
            progress=100,
            result=Result(video_url=url),
            raw_status="COMPLETED",
        )
    if data.get("status") == "ERROR":
        detail = payload.get("detail")
        first = (
            detail[0] if isinstance(detail, list) and detail and isinstance(detail[0], dict) else {}
        )
        code = str(first.get("type") or "request_failed")
        message = str(data.get("error") or first.get("msg") or "The fal request failed.")
        return Task(
            task_id=upstream_id,
            status=Status.FAILED,
            error=TaskError(code=code, message=message),
            raw_status="ERROR",
        )
    return Task(task_id=upstream_id, status=Status.PROCESSING)
