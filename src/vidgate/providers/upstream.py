"""Upstream providers: one HTTP client, with limits and error classes, over a dialect.

The API calls (submit, status, cancel) go through aiohttp, which spends a tenth of httpx's
CPU on a small JSON exchange; a gateway polling thousands of tasks makes hundreds a second.
Result downloads, streamed and redirected, go through httpx as every other download does.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from vidgate.catalog import Shape
from vidgate.dialects.common import whole_number
from vidgate.dialects.outbound import Call, ErrorFields, ErrorKind, Outbound
from vidgate.errors import ApiError, VidgateError
from vidgate.metrics import upstream_request
from vidgate.models import Result, Status, Task, VideoRequest
from vidgate.netguard import BlockedAddress, GuardedFetcher
from vidgate.providers.base import ProviderError, ProviderLimits
from vidgate.ratelimit import CallRate
from vidgate.retry import poll_after, retry_after
from vidgate.settings import ProviderConfig

if TYPE_CHECKING:
    import aiohttp
    import httpx

__all__ = [
    "ErrorKind",
    "Polled",
    "RunningListing",
    "Submitted",
    "UpstreamError",
    "UpstreamProvider",
]

CONNECTIONS = 32
"""Calls in flight to one upstream; more wait here, not in the HTTP pool, whose cost grows with
the square of its queue."""
MAX_REDIRECTS = 3
MAX_INLINE_BYTES = 20 * 1024 * 1024
"""The largest input sent inline, as a `data:` URL, to an API that does not fetch URLs."""


@dataclass(frozen=True)
class Submitted:
    upstream_id: str
    credential: str


@dataclass(frozen=True)
class Polled:
    """An upstream task as read, plus the upstream's own poll hint in seconds, if any."""

    task: Task
    hint: float | None = None


@dataclass(frozen=True)
class RunningListing:
    """The upstream tasks that a listing shows still running under one credential."""

    ids: dict[str, str]
    """Upstream id → the status word it was listed under."""
    complete: bool
    """False when the listing was longer than the pages allowed: an id missing from `ids` may
    then still be running."""
    calls: int


@dataclass(frozen=True)
class Answer:
    """An upstream's answer to an API call, read whole."""

    status: int
    headers: Mapping[str, str]
    """Case-insensitive, as the client gives them."""
    data: Any
    """The JSON body; None for an empty one."""


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


def _compact_json(value: Any) -> str:
    """JSON as httpx writes a request body: compact, non-ASCII kept, no NaN."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


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
        self.call_rate = CallRate(config.requests_per_second)
        import httpx  # imported by the processes that have an upstream, not by every one

        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            timeout=config.timeout,
            limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
        )
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(CONNECTIONS)
        self._next_credential = 0

    async def aclose(self) -> None:
        await self._client.aclose()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _api(self) -> aiohttp.ClientSession:
        """The API calls' session, made on first use (inside the running loop). A proxy named
        by the environment (`HTTPS_PROXY`, `NO_PROXY`…) for the base URL is used, as httpx
        uses it; credentials come from the provider's config, never from a netrc file."""
        if self._session is None:
            import aiohttp
            import httpx
            from aiohttp.helpers import get_env_proxy_for_url
            from yarl import URL

            try:
                proxy, proxy_auth = get_env_proxy_for_url(URL(self.config.base_url))
            except LookupError:
                proxy, proxy_auth = None, None
            timeout = self.config.timeout
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=CONNECTIONS, limit_per_host=CONNECTIONS, ssl=httpx.create_ssl_context()
                ),
                timeout=aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout),
                proxy=proxy,
                proxy_auth=proxy_auth,
                json_serialize=_compact_json,
            )
        return self._session

    def _key(self, credential: str) -> str:
        return self.credentials[int(credential) % len(self.credentials)]

    def _serves(self, url: str) -> bool:
        """Whether ``url`` is on this provider's own origin (scheme, host and port)."""
        import httpx

        mine, theirs = httpx.URL(self.config.base_url), httpx.URL(url)
        return (mine.scheme, mine.host, mine.port) == (theirs.scheme, theirs.host, theirs.port)

    def _path(self, call: Call) -> str:
        """The call's path under the configured base URL, written as the API's SDKs write it."""
        return call.path.removeprefix(self.dialect.base_path)

    def _error(self, status: int, fields: ErrorFields, headers: Mapping[str, str]) -> UpstreamError:
        """An error answer as an UpstreamError of the kind the API's code or status calls for."""
        code = fields.code or f"http_{status}"
        message = fields.message or f"the upstream answered HTTP {status}"
        kind = self.dialect.error_kind(status, code)
        if kind is None:
            if status == 429 or code.startswith("Throttling"):
                kind = "throttled"
            elif status >= 500 or status == 408:
                kind = "transient"
            elif status in (401, 403):
                kind = "refused"
            else:
                kind = "invalid"
        wait = retry_after(headers) if kind in ("throttled", "transient") else None
        return UpstreamError(kind, code, message, wait)

    async def _call(self, call: Call, credential: str) -> Answer:
        """One API call: a connection slot first, then the rate limit's leave, so that calls
        held back for a slot cannot reach the upstream faster than the rate once they go."""
        async with self._slots:
            await self.call_rate.acquire()
            with upstream_request(self.name):
                return await self._send(call, credential)

    async def _send(self, call: Call, credential: str) -> Answer:
        import aiohttp

        headers = {**self.dialect.auth_headers(self._key(credential)), **call.headers}
        url = f"{self.config.base_url.rstrip('/')}{self._path(call)}"
        try:
            async with (
                self._api().request(
                    call.method,
                    url,
                    json=call.json,
                    params=dict(call.params) or None,
                    headers=headers,
                    allow_redirects=False,
                ) as response,
            ):
                status, answer_headers, body = (
                    response.status,
                    response.headers,
                    await response.read(),
                )
        except TimeoutError as exc:
            raise UpstreamError(
                "transient", "upstream_timeout", f"no answer within {self.config.timeout:g} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                "transient", "upstream_unreachable", f"the upstream cannot be reached: {exc}"
            ) from exc
        success = 200 <= status < 300
        try:
            data = json.loads(body) if body else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
            if success:
                raise _malformed("answer is malformed JSON") from None
        if success:
            carried = self.dialect.answer_error(data)
            if carried is not None:
                raise self._error(status, carried, answer_headers)
            return Answer(status, answer_headers, data)
        raise self._error(status, self.dialect.error(data), answer_headers)

    async def _inline(self, request: VideoRequest) -> VideoRequest:
        """The request with the inputs its API does not fetch turned into `data:` URLs."""
        changes: dict[str, Any] = {}
        for name in self.dialect.inline_inputs:
            value = getattr(request, name)
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                changes[name] = await self._data_url(value)
        return request.model_copy(update=changes) if changes else request

    async def _data_url(self, url: str) -> str:
        import httpx

        try:
            response = await self.fetcher.open(url)
        except BlockedAddress as exc:
            raise UpstreamError("invalid", "input_unreachable", str(exc)) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError("transient", "input_unreachable", str(exc)) from exc
        data = bytearray()
        try:
            if response.status_code != 200:
                raise UpstreamError(
                    "transient" if response.status_code >= 500 else "invalid",
                    "input_unreachable",
                    f"an input answered HTTP {response.status_code}",
                )
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > MAX_INLINE_BYTES:
                    raise UpstreamError("invalid", "input_too_large", "an input is too large")
        except httpx.HTTPError as exc:
            raise UpstreamError("transient", "input_unreachable", str(exc)) from exc
        finally:
            await response.aclose()
        kind = response.headers.get("content-type", "application/octet-stream").split(";")[0]
        return f"data:{kind};base64,{base64.b64encode(bytes(data)).decode()}"

    async def submit(
        self, request: VideoRequest, shape: Shape, callback_url: str | None = None
    ) -> Submitted:
        """Create the task upstream, at the resolved `shape` (what was reserved), with the next
        credential; the task is pinned to it. `callback_url` is vidgate's own route for the
        upstream to call back; the client's callback is the gateway's to call, never sent."""
        credential = str(self._next_credential % len(self.credentials))
        self._next_credential += 1
        request = await self._inline(request.model_copy(update={"callback_url": callback_url}))
        try:
            call = self.dialect.create(request, shape)
        except ApiError as exc:
            raise UpstreamError("invalid", exc.code, exc.message) from exc
        data = (await self._call(call, credential)).data
        upstream_id = self.dialect.accepted_id(data, call)
        if not upstream_id:
            raise _malformed("answer has no task id")
        return Submitted(upstream_id, credential)

    async def poll(self, upstream_id: str, credential: str) -> Polled:
        answer = await self._call(self.dialect.retrieve(upstream_id), credential)
        data = answer.data
        if not isinstance(data, dict):
            raise _malformed("task is not a JSON object")
        try:
            task = self.dialect.parse(data)
        except (VidgateError, ValidationError) as exc:
            raise _malformed(f"task cannot be read: {exc}") from exc
        if task.status is Status.COMPLETED:
            task = await self._locate_result(task, data, credential)
        return Polled(task, poll_after(answer.headers))

    async def running(self, credential: str, max_pages: int) -> RunningListing:
        """The tasks that the upstream lists as unfinished under a credential, each of the
        dialect's `running_statuses` in turn, page by page, within `max_pages` calls."""
        found: dict[str, str] = {}
        calls = 0
        for status in self.dialect.running_statuses:
            word = self.dialect.status.wire(status)
            after: str | None = None
            while True:
                if calls >= max_pages:
                    return RunningListing(found, False, calls)
                call = self.dialect.list(
                    limit=self.dialect.list_limit, after=after, status=status, model=None
                )
                if call is None:
                    raise UpstreamError("invalid", "list_unsupported", "no task listing")
                data = (await self._call(call, credential)).data
                calls += 1
                try:
                    page = self.dialect.running_page(data, status)
                except (AttributeError, TypeError, ValueError, VidgateError) as exc:
                    raise _malformed(f"task listing cannot be read: {exc}") from exc
                found.update(dict.fromkeys(page.ids, word))
                if page.next_after is None:
                    break
                after = page.next_after
        return RunningListing(found, True, calls)

    async def _locate_result(self, task: Task, data: object, credential: str) -> Task:
        """A completed task with its result URL, from the further call its API needs."""
        follow = self.dialect.result_call(data)
        if follow is None:
            return task
        answer = (await self._call(follow, credential)).data
        url = self.dialect.result_location(answer)
        if not url:
            raise _malformed("result answer has no URL")
        result = task.result or Result(video_url=url)
        return task.model_copy(update={"result": result.model_copy(update={"video_url": url})})

    async def fetch(self, call: Call, credential: str) -> Any:
        """One further call of the dialect's own (a webhook secret lookup), with the credential
        a task is pinned to; its JSON answer."""
        return (await self._call(call, credential)).data

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

    async def _open_result(
        self, upstream_id: str, url: str | None, credential: str
    ) -> httpx.Response:
        auth = self.dialect.auth_headers(self._key(credential))
        content = self.dialect.content(upstream_id)
        if url and url.startswith(("http://", "https://")):
            request = self._client.build_request("GET", url)
        elif content is not None:
            request = self._client.build_request(
                content.method, self._path(content), headers=content.headers
            )
        else:
            raise UpstreamError("invalid", "result_unavailable", "no result URL")
        for _ in range(MAX_REDIRECTS + 1):
            if self._serves(str(request.url)):
                # The provider's own origin is trusted as its base_url is, even on a private
                # network the input guard refuses.
                await self.call_rate.acquire()
                request.headers.update(auth)
                response = await self._client.send(request, stream=True)
            else:
                response = await self.fetcher.open(str(request.url))
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                return response
            await response.aclose()
            request = self._client.build_request("GET", request.url.join(location))
        raise UpstreamError("invalid", "result_unavailable", "too many redirects")

    async def download(
        self, upstream_id: str, url: str | None, credential: str, dest: Path, max_bytes: int
    ) -> int:
        """Stream the result into `dest`, checking its length; returns the byte count.

        The provider's key goes only to its own origin; redirects are followed, each hop to
        another origin through the input guard."""
        import httpx

        try:
            response = await self._open_result(upstream_id, url, credential)
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
