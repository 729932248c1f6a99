"""Upstream providers: one HTTP client, with limits and error classes, over a dialect."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from vidgate.catalog import Shape
from vidgate.dialects.common import whole_number
from vidgate.dialects.outbound import Call, Outbound
from vidgate.errors import VidgateError
from vidgate.models import Task, VideoRequest
from vidgate.netguard import BlockedAddress, GuardedFetcher
from vidgate.providers.base import ProviderError, ProviderLimits
from vidgate.ratelimit import TokenBucket
from vidgate.retry import poll_after, retry_after
from vidgate.settings import ProviderConfig

__all__ = ["Polled", "Submitted", "UpstreamError", "UpstreamProvider"]

ErrorKind = Literal["throttled", "transient", "refused", "invalid"]
CONNECTIONS = 32
"""Calls in flight to one upstream; more wait here, not in the HTTP pool, whose cost grows with
the square of its queue."""


@dataclass(frozen=True)
class Submitted:
    upstream_id: str
    credential: str


@dataclass(frozen=True)
class Polled:
    """An upstream task as read, plus the upstream's own poll hint in seconds, if any."""

    task: Task
    hint: float | None = None


class UpstreamError(ProviderError):
    """A failed upstream call: throttled and transient errors are retried, others are not."""

    def __init__(
        self, kind: ErrorKind, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(code, message)
        self.kind = kind
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _malformed(what: str) -> UpstreamError:
    return UpstreamError("transient", "upstream_malformed", f"the upstream's {what}")


class UpstreamProvider:
    """Submits, polls and cancels tasks at one upstream, within its rate and concurrency.

    `dialect` builds every call and reads every answer; this class sends them.
    """

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        dialect: Outbound,
        credentials: list[str],
        fetcher: GuardedFetcher,
    ) -> None:
        self.name = name
        self.config = config
        self.dialect = dialect
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

    def _serves(self, url: str) -> bool:
        """Whether ``url`` is on this provider's own origin (scheme, host and port)."""
        mine, theirs = httpx.URL(self.config.base_url), httpx.URL(url)
        return (mine.scheme, mine.host, mine.port) == (theirs.scheme, theirs.host, theirs.port)

    def _path(self, call: Call) -> str:
        """The call's path under the configured base URL, written as the API's SDKs write it."""
        return call.path.removeprefix(self.dialect.base_path)

    async def _call(self, call: Call, credential: str) -> tuple[Any, httpx.Response]:
        await self.bucket.acquire()
        headers = {"Authorization": f"Bearer {self._key(credential)}", **call.headers}
        try:
            async with self._slots:
                response = await self._client.request(
                    call.method,
                    self._path(call),
                    json=call.json,
                    params=dict(call.params) or None,
                    headers=headers,
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
                raise _malformed("answer is malformed JSON") from None
        if response.is_success:
            return data, response
        code, message, _ = self.dialect.error(data)
        code = code or f"http_{response.status_code}"
        message = message or f"the upstream answered HTTP {response.status_code}"
        status = response.status_code
        if status == 429 or code.startswith("Throttling"):
            raise UpstreamError("throttled", code, message, retry_after(response.headers))
        if status >= 500 or status == 408:
            raise UpstreamError("transient", code, message, retry_after(response.headers))
        if status in (401, 403):
            raise UpstreamError("refused", code, message)
        raise UpstreamError("invalid", code, message)

    async def submit(self, request: VideoRequest, shape: Shape) -> Submitted:
        """Create the task upstream, at the resolved `shape` (what was reserved), with the next
        credential; the task is pinned to it."""
        credential = str(self._next_credential % len(self.credentials))
        self._next_credential += 1
        # The callback is the gateway's to call, not the upstream's.
        call = self.dialect.create(request.model_copy(update={"callback_url": None}), shape)
        data, _ = await self._call(call, credential)
        upstream_id = self.dialect.submitted_id(data)
        if not upstream_id:
            raise _malformed("answer has no task id")
        return Submitted(upstream_id, credential)

    async def poll(self, upstream_id: str, credential: str) -> Polled:
        data, response = await self._call(self.dialect.retrieve(upstream_id), credential)
        if not isinstance(data, dict):
            raise _malformed("task is not a JSON object")
        try:
            task = self.dialect.parse(data)
        except (VidgateError, ValidationError) as exc:
            raise _malformed(f"task cannot be read: {exc}") from exc
        return Polled(task, poll_after(response.headers))

    async def cancel(self, upstream_id: str, credential: str) -> bool:
        """Stop the task upstream; False when the upstream refuses or cannot. An API without
        cancel (OpenAI's) stops a task by deleting it."""
        call = self.dialect.cancel(upstream_id) or self.dialect.delete(upstream_id)
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
        content = self.dialect.content(upstream_id)
        if content is None:
            return url
        return f"{self.config.base_url.rstrip('/')}{self._path(content)}"

    async def download(
        self, upstream_id: str, url: str | None, credential: str, dest: Path, max_bytes: int
    ) -> int:
        """Stream the result into `dest`, checking its length; returns the byte count."""
        content = self.dialect.content(upstream_id)
        auth = {"Authorization": f"Bearer {self._key(credential)}"}
        try:
            if url and url.startswith(("http://", "https://")) and self._serves(url):
                # The provider's own origin is trusted as its base_url is, even on a private
                # network the input guard refuses.
                await self.bucket.acquire()
                response = await self._client.send(
                    self._client.build_request("GET", url, headers=auth), stream=True
                )
            elif url and url.startswith(("http://", "https://")):
                response = await self.fetcher.open(url)
            elif content is not None:
                await self.bucket.acquire()
                request = self._client.build_request(
                    content.method,
                    self._path(content),
                    headers={**auth, **content.headers},
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
            expected = whole_number(declared)
            if expected is not None and expected != size:
                raise UpstreamError(
                    "transient", "result_truncated", f"got {size} of {declared} bytes"
                )
            return size
        except httpx.HTTPError as exc:
            raise UpstreamError("transient", "result_unreachable", str(exc)) from exc
        finally:
            await response.aclose()
