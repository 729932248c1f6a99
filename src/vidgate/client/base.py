"""What `Client` and `AsyncClient` share: every piece of logic that does no I/O.

It builds `httpx.Request` objects, reads responses into Tasks or typed errors, and decides
retries. The twins send the requests, sleep, and touch files; nothing else.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from vidgate.client.config import Target, resolve_target
from vidgate.client.download import Transfer
from vidgate.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    UnsupportedOperation,
    URLExpiredError,
    status_error,
)
from vidgate.client.events import events_path
from vidgate.client.profiles import PROFILES, Profile, default_model
from vidgate.client.waiting import Via, Waiter
from vidgate.dialects import dashscope, native
from vidgate.dialects.outbound import Call, Outbound, TaskPage
from vidgate.errors import VidgateError
from vidgate.models import Result, Status, Task, VideoRequest
from vidgate.retry import PollPolicy, RetryPolicy, should_retry

__all__ = ["RETRYABLE", "BaseClient", "Generation", "RequestInput"]

RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
"""Transport errors worth another try; others (a bad URL scheme, a proxy refusal) are final."""

RequestInput = VideoRequest | Mapping[str, Any] | None


def _user_agent() -> str:
    from vidgate import __version__

    return f"vidgate-python/{__version__}"


@dataclass(frozen=True)
class Generation:
    """A finished task and the file its video was saved to."""

    task: Task
    path: Path


class BaseClient:
    """Configuration, request building, response reading and retry decisions."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        provider: str | None,
        timeout: float,
        max_retries: int,
        environ: Mapping[str, str] | None,
    ) -> None:
        self.target: Target = resolve_target(
            os.environ if environ is None else environ,
            provider=provider,
            base_url=base_url,
            api_key=api_key,
        )
        self.profile: Profile = PROFILES[self.target.provider]
        self.dialect: Outbound = self.profile.dialect
        self.timeout = timeout
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.poll_policy = PollPolicy()

    @property
    def provider(self) -> str:
        return self.target.provider

    @property
    def base_url(self) -> str:
        return self.target.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, base_url={self.base_url!r})"

    # requests

    def absolute(self, url: str) -> str:
        """A URL as given, or a path made absolute against the base URL."""
        return url if "://" in url else self.base_url + (url if url.startswith("/") else f"/{url}")

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def _build(
        self,
        call: Call,
        *,
        headers: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
        files: Any = None,
    ) -> httpx.Request:
        url = self.absolute(call.path)
        merged = {"User-Agent": _user_agent(), "Accept": "application/json"}
        # The key goes only to the server it belongs to, never to a CDN serving a result.
        if self.target.api_key and self._same_origin(url):
            merged["Authorization"] = f"Bearer {self.target.api_key}"
        merged.update(call.headers)
        merged.update(headers or {})
        timeout = httpx.Timeout(self.timeout, read=read_timeout or self.timeout)
        return httpx.Request(
            call.method,
            url,
            params=call.params or None,
            json=call.json,
            files=files,
            headers=merged,
            extensions={"timeout": timeout.as_dict()},
        )

    def prepare(
        self, request: RequestInput = None, fields: Mapping[str, Any] | None = None
    ) -> VideoRequest:
        """The canonical request from a VideoRequest, a flat body, or DashScope's
        `{model, input, parameters}`; keyword fields override. Invalid bodies raise
        `vidgate.errors.InvalidRequest` before anything is sent."""
        if isinstance(request, VideoRequest):
            body: dict[str, Any] = native.build_create(request)
        else:
            body = dict(request or {})
        body.update(fields or {})
        video = dashscope.parse_create(body) if "input" in body else native.parse_create(body)
        if self.profile.fills_model and not video.model:
            video = video.model_copy(update={"model": default_model(video)})
        return video

    def _create_request(self, request: VideoRequest, idempotency_key: str | None) -> httpx.Request:
        key = idempotency_key or str(uuid.uuid4())
        return self._build(self.dialect.create(request), headers={"Idempotency-Key": key})

    def _is_stream(self, response: httpx.Response, content: bytes | None) -> bool:
        """Whether an answer to the events request is a stream; errors other than "no such
        route" raise (`content` is the body read when the status is an error)."""
        if response.status_code in (404, 405):
            return False
        if response.status_code >= 400:
            raise self._status_error(response, content or b"")
        kind: str = response.headers.get("content-type", "")
        return kind.startswith("text/event-stream")

    def _get_request(self, task_id: str, wait: float | None = None) -> httpx.Request:
        call = self.dialect.retrieve(task_id)
        if wait:
            call = replace(call, params={**call.params, "wait": f"{wait:g}"})
            return self._build(call, read_timeout=wait + self.timeout)
        return self._build(call)

    def _events_request(self, waiter: Waiter, window: float) -> httpx.Request:
        headers = {"Accept": "text/event-stream"}
        if waiter.cursor is not None:
            headers["Last-Event-ID"] = waiter.cursor
        call = Call("GET", events_path(waiter.task_id))
        return self._build(call, headers=headers, read_timeout=window)

    def _cancel_request(self, task_id: str) -> httpx.Request:
        call = self.dialect.cancel(task_id)
        if call is None:
            raise UnsupportedOperation(f"The {self.dialect.name} dialect cannot cancel tasks.")
        return self._build(call)

    def _list_request(
        self, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> httpx.Request:
        call = self.dialect.list(limit=limit, after=after, status=status, model=model)
        if call is None:
            raise UnsupportedOperation(f"The {self.dialect.name} dialect cannot list tasks.")
        return self._build(call)

    def _upload_request(self, path: Path, data: bytes) -> httpx.Request:
        files = {"file": (path.name, data)}
        return self._build(Call("POST", "/v1/files"), files=files)

    def _download_request(self, transfer: Transfer) -> httpx.Request:
        return self._build(Call("GET", transfer.url), headers=transfer.headers())

    # responses

    def _retry_delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds before the next try, or None when this outcome is final."""
        if attempt >= self.retry_policy.max_retries:
            return None
        if response is None:
            return self.retry_policy.delay(attempt)
        if not should_retry(response.status_code):
            return None
        return self.retry_policy.delay(attempt, response.headers)

    def _connection_error(self, exc: httpx.TransportError) -> APIConnectionError:
        kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        detail = str(exc) or type(exc).__name__
        return kind(f"{exc.request.method} {exc.request.url}: {detail}")

    def _status_error(self, response: httpx.Response, content: bytes) -> APIStatusError:
        try:
            body: Any = json.loads(content)
        except ValueError:
            body = None
        text = content.decode(errors="replace")
        request_id = response.headers.get("x-request-id")
        if response.status_code == 410 and response.request.method == "GET":
            error = status_error(410, body, request_id=request_id, text=text)
            return URLExpiredError(
                f"The video URL has expired or is gone ({error.message}). Get the task again "
                "(client.get(task_id), or client.download(task_id)) for a fresh URL.",
                status_code=410,
                code=error.code,
                request_id=error.request_id,
                body=body,
            )
        return status_error(response.status_code, body, request_id=request_id, text=text)

    def _json(self, response: httpx.Response) -> Any:
        """The JSON body of a successful response; error statuses raise their typed error."""
        if response.status_code >= 400:
            raise self._status_error(response, response.content)
        try:
            return response.json()
        except ValueError:
            raise APIStatusError(
                f"Expected JSON from {response.request.url}, got {response.text[:200]!r}",
                status_code=response.status_code,
                request_id=response.headers.get("x-request-id"),
            ) from None

    def parse_task(self, data: object) -> Task:
        """A task JSON in the client's dialect as a Task, with its video URL made absolute."""
        return self._resolved(self.dialect.parse(data))

    def _resolved(self, task: Task) -> Task:
        if task.result is None or "://" in task.result.video_url:
            return task
        result = task.result.model_copy(update={"video_url": self.absolute(task.result.video_url)})
        return task.model_copy(update={"result": result})

    def _created(self, data: object, request: VideoRequest) -> Task:
        task = self._resolved(self.dialect.created(data, request))
        if not task.task_id:
            raise VidgateError(f"The create answer names no task id: {data!r}")
        return task

    def _cancelled(self, data: object) -> Task | None:
        """The task a cancel answered with, or None when the answer is not a task (DashScope)."""
        task = self.parse_task(data)
        return task if task.task_id else None

    def _page(self, data: Any, status: Status | None) -> TaskPage:
        page = self.dialect.page(data, status)
        return TaskPage([self._resolved(t) for t in page.data], page.has_more, page.next_after)

    # waiting and downloading

    def _waiter(
        self, task: Task | str, timeout: float | None, poll_interval: float | None, now: float
    ) -> Waiter:
        last = None if isinstance(task, str) else task
        profile = self.profile
        via = Via.EVENTS if profile.events else Via.LONG_POLL if profile.long_poll else Via.POLL
        return Waiter(
            task if isinstance(task, str) else task.task_id,
            started=now,
            timeout=timeout,
            via=via,
            poll_interval=poll_interval,
            policy=self.poll_policy,
            last=last,
        )

    def _transfer(self, task: Task, dest: str | os.PathLike[str]) -> Transfer:
        """Where a task's video goes: `dest` itself, or `<dest>/<task_id>.<format>` for a folder."""
        result: Result | None = task.result
        if result is None:
            word = self.dialect.word(task)
            raise VidgateError(f"Task {task.task_id} has no video (status {word}).")
        path = Path(dest)
        if path.is_dir() or str(dest).endswith(("/", os.sep)):
            path = path / f"{task.task_id}.{result.format or 'mp4'}"
        return Transfer(self.absolute(result.video_url), path)

    @staticmethod
    def _abort_note(task_id: str) -> str:
        return f"vidgate task {task_id} may still be running; resume with wait({task_id!r})."
