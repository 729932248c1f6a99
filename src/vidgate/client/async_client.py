"""`AsyncClient`: the asynchronous twin; it only sends, sleeps and writes files."""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import httpx
from anyio import AsyncFile

from vidgate.client.base import RETRYABLE, BaseClient, Generation, RequestInput
from vidgate.client.download import Transfer
from vidgate.client.events import EventDecoder
from vidgate.client.uploads import data_url, local_inputs, with_urls
from vidgate.client.waiting import Step, Via, Waiter, outcome
from vidgate.dialects.outbound import TaskPage
from vidgate.models import Status, Task

__all__ = ["AsyncClient"]

ProgressCallback = Callable[[Task], object]


async def _report(on_progress: ProgressCallback | None, task: Task) -> None:
    if on_progress is not None:
        result = on_progress(task)
        if inspect.isawaitable(result):
            await result


class AsyncClient(BaseClient):
    """An asyncio (or trio) client; the same methods as `Client`, awaited.

    Cancelling a call (task cancellation, an anyio cancel scope, a timeout) stops waiting at
    once and leaves the task itself running: its id is what `create` returned.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        provider: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
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
        self._http = http_client or httpx.AsyncClient()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(request, stream=stream)
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
                await response.aclose()
            attempt += 1
            await anyio.sleep(delay)

    async def _call(self, request: httpx.Request) -> Any:
        return self._json(await self._send(request))

    async def create(
        self, request: RequestInput = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Task:
        """Submit a generation task and return it at once (local files are uploaded first)."""
        video = self.prepare(request, fields)
        found = local_inputs(video)
        if found:
            video = with_urls(video, {item: await self.upload(item.path) for item in found})
        data = await self._call(self._create_request(video, idempotency_key))
        return self._created(data, video)

    async def upload(self, path: str | os.PathLike[str]) -> str:
        """A URL for a local image or video: uploaded to a gateway, else a `data:` URL."""
        file = Path(path)
        data = await anyio.Path(file).read_bytes()
        if not self.profile.uploads:
            return data_url(file, data)
        return str((await self._call(self._upload_request(file, data)))["url"])

    async def get(self, task_id: str) -> Task:
        """The task as it is now."""
        return self.parse_task(await self.get_json(task_id))

    async def get_json(self, task_id: str) -> Any:
        """The task exactly as the server answered, in its dialect's JSON."""
        return await self._call(self._get_request(task_id))

    async def list(
        self,
        *,
        limit: int = 20,
        after: str | None = None,
        status: Status | None = None,
        model: str | None = None,
    ) -> TaskPage:
        """One page of tasks, newest first."""
        data = await self._call(self._list_request(limit, after, status, model))
        return self._page(data, status)

    async def cancel(self, task_id: str) -> Task:
        """Cancel a task; returns it as it is afterwards."""
        cancelled = self._cancelled(await self._call(self._cancel_request(task_id)))
        return cancelled or await self.get(task_id)

    async def wait(
        self,
        task: Task | str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Task:
        """Wait until the task ends; return it when completed (see `Client.wait`).

        `on_progress` may be a plain function or a coroutine function.
        """
        if isinstance(task, Task) and task.status.terminal:
            return outcome(task)
        waiter = self._waiter(task, timeout, poll_interval, time.monotonic())
        while True:
            step = waiter.next_step(time.monotonic())
            if step.via is Via.EVENTS:
                current = await self._follow(waiter, step, on_progress)
            else:
                current = await self._check(waiter, step, on_progress)
            if current is not None and current.status.terminal:
                return outcome(current)

    async def _check(
        self, waiter: Waiter, step: Step, on_progress: ProgressCallback | None
    ) -> Task:
        """One status request (a long-poll on a gateway)."""
        if step.delay:
            await anyio.sleep(step.delay)
        sent = time.monotonic()
        wait = step.window if step.via is Via.LONG_POLL else None
        response = await self._send(self._get_request(waiter.task_id, wait))
        current = self.parse_task(self._json(response))
        waiter.observe(current, response.headers, step=step, sent=sent, now=time.monotonic())
        await _report(on_progress, current)
        return current

    async def _follow(
        self, waiter: Waiter, step: Step, on_progress: ProgressCallback | None
    ) -> Task | None:
        """One event-stream connection: the task once it ends, else None to go on."""
        window = step.window or 0.0
        response = await self._send(self._events_request(waiter, window), stream=True)
        waiter.connected()
        opened = time.monotonic()
        try:
            content = await response.aread() if response.is_error else None
            if not self._is_stream(response, content):
                waiter.no_stream()
                return None
            decoder = EventDecoder()
            async for line in response.aiter_lines():
                event = decoder.feed(line)
                current = waiter.observe_event(event) if event is not None else None
                if current is not None:
                    await _report(on_progress, current)
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
            await response.aclose()
        if waiter.last is not None:
            await _report(on_progress, waiter.last)
        return None

    async def download(self, task: Task | str, dest: str | os.PathLike[str] = ".") -> Path:
        """Stream a completed task's video to `dest` (a file, or a folder); returns the path."""
        transfer = self._transfer(await self.get(task) if isinstance(task, str) else task, dest)
        await anyio.Path(transfer.path.parent).mkdir(parents=True, exist_ok=True)
        try:
            async with await anyio.open_file(transfer.part, "wb") as out:
                while not await self._fetch(transfer, out):
                    pass
        except BaseException:
            await anyio.Path(transfer.part).unlink(missing_ok=True)
            raise
        await anyio.Path(transfer.part).replace(transfer.path)
        return transfer.path

    async def _fetch(self, transfer: Transfer, out: AsyncFile[bytes]) -> bool:
        """One GET of the rest of the file; False when it broke off and must resume."""
        response = await self._send(self._download_request(transfer), stream=True)
        try:
            if response.status_code >= 400:
                raise self._status_error(response, await response.aread())
            if transfer.begin(response.status_code, response.headers):
                await out.seek(0)
                await out.truncate()
            async for chunk in response.aiter_bytes():
                await out.write(chunk)
                transfer.add(len(chunk))
        except RETRYABLE as exc:
            await anyio.sleep(transfer.broken(self.retry_policy, exc))
            return False
        finally:
            await response.aclose()
        if transfer.complete:
            return True
        await anyio.sleep(transfer.broken(self.retry_policy, EOFError("the body ended early")))
        return False

    async def generate(
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
        task = await self.create(request, **fields)
        await _report(on_progress, task)
        try:
            done = await self.wait(
                task, timeout=timeout, poll_interval=poll_interval, on_progress=on_progress
            )
        except BaseException as exc:
            if not isinstance(exc, Exception):
                exc.add_note(self._abort_note(task.task_id))
            raise
        return Generation(done, await self.download(done, output))
