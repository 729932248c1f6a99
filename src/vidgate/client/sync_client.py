"""`Client`: the blocking twin; it only sends, sleeps and writes files."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import httpx

from vidgate.client.base import RETRYABLE, BaseClient, Generation, RequestInput
from vidgate.client.download import Transfer
from vidgate.client.events import EventDecoder
from vidgate.client.uploads import data_url, local_inputs, with_urls
from vidgate.client.waiting import Step, Via, Waiter, outcome
from vidgate.dialects.outbound import TaskPage
from vidgate.models import Status, Task

__all__ = ["Client"]

ProgressCallback = Callable[[Task], object]


class Client(BaseClient):
    """A blocking client for a vidgate gateway, DashScope, or a kik, nebula or OpenAI relay.

    Arguments left out come from the environment (see `vidgate.client.config`). Pass
    `http_client` to supply your own `httpx.Client` (hooks, proxies, a transport); the client
    closes only the one it made itself.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        provider: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            provider=provider,
            timeout=timeout,
            max_retries=max_retries,
            environ=environ,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.send(request, stream=stream)
            except RETRYABLE as exc:
                delay = self._retry_delay(attempt, None)
                if delay is None:
                    raise self._connection_error(exc) from exc
            except httpx.TransportError as exc:
                raise self._connection_error(exc) from exc
            else:
                delay = self._retry_delay(attempt, response)
                if delay is None:
                    return response
                response.close()
            attempt += 1
            time.sleep(delay)

    def _call(self, request: httpx.Request) -> Any:
        return self._json(self._send(request))

    def create(
        self, request: RequestInput = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Task:
        """Submit a generation task and return it at once (local files are uploaded first).

        Retries are safe: every try carries the same `Idempotency-Key`.
        """
        video = self.prepare(request, fields)
        found = local_inputs(video)
        if found:
            video = with_urls(video, {item: self.upload(item.path) for item in found})
        return self._created(self._call(self._create_request(video, idempotency_key)), video)

    def upload(self, path: str | os.PathLike[str]) -> str:
        """A URL for a local image or video: uploaded to a gateway, else a `data:` URL."""
        file = Path(path)
        data = file.read_bytes()
        if not self.profile.uploads:
            return data_url(file, data)
        return str(self._call(self._upload_request(file, data))["url"])

    def get(self, task_id: str) -> Task:
        """The task as it is now."""
        return self.parse_task(self.get_json(task_id))

    def get_json(self, task_id: str) -> Any:
        """The task exactly as the server answered, in its dialect's JSON."""
        return self._call(self._get_request(task_id))

    def list(
        self,
        *,
        limit: int = 20,
        after: str | None = None,
        status: Status | None = None,
        model: str | None = None,
    ) -> TaskPage:
        """One page of tasks, newest first."""
        data = self._call(self._list_request(limit, after, status, model))
        return self._page(data, status)

    def cancel(self, task_id: str) -> Task:
        """Cancel a task; returns it as it is afterwards."""
        cancelled = self._cancelled(self._call(self._cancel_request(task_id)))
        return cancelled or self.get(task_id)

    def wait(
        self,
        task: Task | str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Task:
        """Block until the task ends; return it when completed.

        Raises TaskFailed or TaskCancelled when it ends otherwise, WaitTimeout once `timeout`
        seconds have passed. `poll_interval` bounds the seconds between two answers (the
        event stream's or long-poll's window on a gateway, the fixed interval elsewhere).
        `on_progress` sees every answer. Stopping the wait never cancels the task.
        """
        if isinstance(task, Task) and task.status.terminal:
            return outcome(task)
        waiter = self._waiter(task, timeout, poll_interval, time.monotonic())
        while True:
            step = waiter.next_step(time.monotonic())
            if step.via is Via.EVENTS:
                current = self._follow(waiter, step, on_progress)
            else:
                current = self._check(waiter, step, on_progress)
            if current is not None and current.status.terminal:
                return outcome(current)

    def _check(self, waiter: Waiter, step: Step, on_progress: ProgressCallback | None) -> Task:
        """One status request (a long-poll on a gateway)."""
        if step.delay:
            time.sleep(step.delay)
        sent = time.monotonic()
        wait = step.window if step.via is Via.LONG_POLL else None
        response = self._send(self._get_request(waiter.task_id, wait))
        current = self.parse_task(self._json(response))
        waiter.observe(current, response.headers, step=step, sent=sent, now=time.monotonic())
        if on_progress is not None:
            on_progress(current)
        return current

    def _follow(
        self, waiter: Waiter, step: Step, on_progress: ProgressCallback | None
    ) -> Task | None:
        """One event-stream connection: the task once it ends, else None to go on."""
        window = step.window or 0.0
        response = self._send(self._events_request(waiter, window), stream=True)
        waiter.connected()
        opened = time.monotonic()
        try:
            if not self._is_stream(response, response.read() if response.is_error else None):
                waiter.no_stream()
                return None
            decoder = EventDecoder()
            for line in response.iter_lines():
                event = decoder.feed(line)
                current = waiter.observe_event(event) if event is not None else None
                if current is not None:
                    if on_progress is not None:
                        on_progress(current)
                    if current.status.terminal:
                        return current
                now = time.monotonic()
                if waiter.expired(now):
                    raise waiter.timed_out(now)
                if now - opened >= window:
                    break
            else:
                waiter.stream_broke()
                return None
        except httpx.ReadTimeout:
            pass
        except RETRYABLE:
            waiter.stream_broke()
            return None
        finally:
            response.close()
        if on_progress is not None and waiter.last is not None:
            on_progress(waiter.last)
        return None

    def download(self, task: Task | str, dest: str | os.PathLike[str] = ".") -> Path:
        """Stream a completed task's video to `dest` (a file, or a folder); returns the path.

        A broken connection resumes with Range; the length is checked. A task id fetches
        the task first, which also renews an expired URL.
        """
        transfer = self._transfer(self.get(task) if isinstance(task, str) else task, dest)
        transfer.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(transfer.part, "wb") as out:
                while not self._fetch(transfer, out):
                    pass
        except BaseException:
            transfer.part.unlink(missing_ok=True)
            raise
        transfer.part.replace(transfer.path)
        return transfer.path

    def _fetch(self, transfer: Transfer, out: BinaryIO) -> bool:
        """One GET of the rest of the file; False when it broke off and must resume."""
        response = self._send(self._download_request(transfer), stream=True)
        try:
            if response.status_code >= 400:
                raise self._status_error(response, response.read())
            if transfer.begin(response.status_code, response.headers):
                out.seek(0)
                out.truncate()
            for chunk in response.iter_bytes():
                out.write(chunk)
                transfer.add(len(chunk))
        except RETRYABLE as exc:
            time.sleep(transfer.broken(self.retry_policy, exc))
            return False
        finally:
            response.close()
        if transfer.complete:
            return True
        time.sleep(transfer.broken(self.retry_policy, EOFError("the body ended early")))
        return False

    def generate(
        self,
        request: RequestInput = None,
        /,
        *,
        output: str | os.PathLike[str] = ".",
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
        **fields: Any,
    ) -> Generation:
        """Create, wait and download in one call. `on_progress` sees the created task first."""
        task = self.create(request, **fields)
        if on_progress is not None:
            on_progress(task)
        try:
            done = self.wait(
                task, timeout=timeout, poll_interval=poll_interval, on_progress=on_progress
            )
        except KeyboardInterrupt as exc:
            exc.add_note(self._abort_note(task.task_id))
            raise
        return Generation(done, self.download(done, output))
