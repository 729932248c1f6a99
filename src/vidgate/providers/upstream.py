"""Upstream providers: one HTTP client, with limits and error classes, over an API adapter."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from vidgate.config import ProviderConfig
from vidgate.models import Task, VideoRequest
from vidgate.netguard import BlockedAddress, GuardedFetcher
from vidgate.providers.base import ProviderLimits
from vidgate.ratelimit import TokenBucket

__all__ = [
    "Adapter",
    "Call",
    "Polled",
    "Submitted",
    "UpstreamError",
    "UpstreamProvider",
]

ErrorKind = Literal["throttled", "transient", "refused", "invalid"]
CONNECTIONS = 32
"""Calls in flight to one upstream; more wait here, not in the HTTP pool, whose cost grows with
the square of its queue."""


@dataclass(frozen=True)
class Call:
    """One HTTP request to an upstream, relative to its base URL."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Submitted:
    upstream_id: str
    credential: str


@dataclass(frozen=True)
class Polled:
    """An upstream task as read, plus the upstream's own poll hint in seconds, if any."""

    task: Task
    hint: float | None = None


class UpstreamError(Exception):
    """A failed upstream call: throttled and transient errors are retried, others are not."""

    def __init__(
        self, kind: ErrorKind, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.kind = kind
        self.code = code
        self.message = message
        self.retry_after = retry_after


class Adapter(Protocol):
    """How one API spells submit, poll, cancel and download."""

    def submit(self, request: VideoRequest) -> Call: ...
    def submitted_id(self, data: Any) -> str | None: ...
    def poll(self, upstream_id: str) -> Call: ...
    def parse(self, data: Any) -> Task: ...
    def cancel(self, upstream_id: str) -> Call | None: ...
    def content(self, upstream_id: str) -> Call | None: ...
    def error(self, data: Any) -> tuple[str | None, str | None]: ...


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class UpstreamProvider:
    """Submits, polls and cancels tasks at one upstream, within its rate and concurrency."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        adapter: Adapter,
        credentials: list[str],
        fetcher: GuardedFetcher,
    ) -> None:
        self.name = name
        self.config = config
        self.adapter = adapter
        self.credentials = credentials
        self.fetcher = fetcher
        self.limits = ProviderLimits(
            concurrency=config.concurrency,
            poll_interval=config.poll_interval,
            can_cancel_running=False,
        )
        self.bucket = TokenBucket(config.requests_per_second)
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            timeout=config.timeout,
            limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
        )
        self._slots = asyncio.Semaphore(CONNECTIONS)
        self._next_credential = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    def _key(self, credential: str) -> str:
        return self.credentials[int(credential) % len(self.credentials)]

    async def _call(self, call: Call, credential: str) -> tuple[Any, httpx.Response]:
        await self.bucket.acquire()
        headers = {"Authorization": f"Bearer {self._key(credential)}", **(call.headers or {})}
        try:
            async with self._slots:
                response = await self._client.request(
                    call.method, call.path, json=call.body, headers=headers
                )
        except httpx.TimeoutException as exc:
            raise UpstreamError("transient", "upstream_timeout", str(exc) or "timed out") from exc
        except httpx.TransportError as exc:
            raise UpstreamError("transient", "upstream_unreachable", str(exc)) from exc
        try:
            data = response.json() if response.content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
            if response.is_success:
                raise UpstreamError(
                    "transient", "upstream_malformed", "the upstream answered malformed JSON"
                ) from None
        if response.is_success:
            return data, response
        code, message = self.adapter.error(data)
        code = code or f"http_{response.status_code}"
        message = message or f"the upstream answered HTTP {response.status_code}"
        status = response.status_code
        if status == 429 or code.startswith("Throttling"):
            raise UpstreamError("throttled", code, message, _retry_after(response))
        if status >= 500 or status == 408:
            raise UpstreamError("transient", code, message, _retry_after(response))
        if status in (401, 403):
            raise UpstreamError("refused", code, message)
        raise UpstreamError("invalid", code, message)

    async def submit(self, request: VideoRequest) -> Submitted:
        """Create the task upstream with the next credential; the task is pinned to it."""
        credential = str(self._next_credential % len(self.credentials))
        self._next_credential += 1
        data, _ = await self._call(self.adapter.submit(request), credential)
        upstream_id = self.adapter.submitted_id(data)
        if not upstream_id:
            raise UpstreamError(
                "transient", "upstream_malformed", "the upstream's answer has no task id"
            )
        return Submitted(upstream_id, credential)

    async def poll(self, upstream_id: str, credential: str) -> Polled:
        data, response = await self._call(self.adapter.poll(upstream_id), credential)
        if not isinstance(data, dict):
            raise UpstreamError("transient", "upstream_malformed", "the task is not a JSON object")
        hint = response.headers.get("openai-poll-after-ms", "")
        seconds = int(hint) / 1000 if hint.isdigit() else _retry_after(response)
        return Polled(self.adapter.parse(data), seconds)

    async def cancel(self, upstream_id: str, credential: str) -> bool:
        call = self.adapter.cancel(upstream_id)
        if call is None:
            return False
        try:
            await self._call(call, credential)
        except UpstreamError as exc:
            if exc.kind == "invalid":
                return False
            raise
        return True

    def source_url(self, upstream_id: str, url: str | None) -> str | None:
        """Where the upstream keeps the result: its absolute URL, or its content route."""
        if url and url.startswith(("http://", "https://")):
            return url
        content = self.adapter.content(upstream_id)
        if content is None:
            return url
        return f"{self.config.base_url.rstrip('/')}{content.path}"

    async def download(
        self, upstream_id: str, url: str | None, credential: str, dest: Path, max_bytes: int
    ) -> int:
        """Stream the result into `dest`, checking its length; returns the byte count."""
        content = self.adapter.content(upstream_id)
        try:
            if url and url.startswith(("http://", "https://")):
                response = await self.fetcher.open(url)
            elif content is not None:
                await self.bucket.acquire()
                request = self._client.build_request(
                    content.method,
                    content.path,
                    headers={"Authorization": f"Bearer {self._key(credential)}"},
                )
                response = await self._client.send(request, stream=True)
            else:
                raise UpstreamError("invalid", "result_unavailable", "no result URL")
        except BlockedAddress as exc:
            raise UpstreamError("invalid", "result_unavailable", str(exc)) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError("transient", "result_unreachable", str(exc)) from exc
        try:
            if response.status_code != 200:
                kind: ErrorKind = "transient" if response.status_code >= 500 else "invalid"
                raise UpstreamError(
                    kind, "result_unavailable", f"result download answered {response.status_code}"
                )
            declared = response.headers.get("content-length", "")
            size = 0
            with dest.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise UpstreamError("invalid", "result_too_large", "result too large")
                    handle.write(chunk)
            if declared.isdigit() and int(declared) != size:
                raise UpstreamError(
                    "transient", "result_truncated", f"got {size} of {declared} bytes"
                )
            return size
        except httpx.HTTPError as exc:
            raise UpstreamError("transient", "result_unreachable", str(exc)) from exc
        finally:
            await response.aclose()
