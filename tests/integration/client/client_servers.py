"""Real HTTP servers for the SDK's tests: seed-literal dialect servers and servers that fail.

`serve(app)` runs a Starlette app on uvicorn in a thread. `SeedServer` answers DashScope, kik
and nebula calls with the JSON the seeds show, one status further on every poll (so tests need
no clock). `FlakyNative` speaks the native dialect without an event stream and fails on a
script. `BreakingFiles` is a raw socket server that cuts a download off mid-body.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conftest import free_port

__all__ = ["BreakingFiles", "FlakyNative", "SeedServer", "serve"]

VIDEO = bytes(range(256)) * 40


@contextmanager
def serve(app: Starlette, port: int | None = None) -> Iterator[str]:
    """The app on uvicorn in a thread, at the URL yielded."""
    chosen = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=chosen, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{chosen}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class SeedServer:
    """DashScope (seeds 000/001), kik (003) and nebula (004), answering as the seeds show.

    A task's prompt picks its story: `fail` fails, `odd` passes through a status word no
    seed names, anything else runs and succeeds.
    """

    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    polls: dict[str, int] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)
    base: str = ""

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/api/v1/services/aigc/{kind}/video-synthesis", self.ds_create, methods=["POST"]
                ),
                Route("/api/v1/tasks/{task_id}", self.ds_task),
                Route("/video/v1/tasks", self.kik_create, methods=["POST"]),
                Route("/video/v1/tasks/{task_id}", self.kik_task),
                Route("/v1/video/generations", self.nebula_create, methods=["POST"]),
                Route("/v1/video/generations/{task_id}", self.nebula_task),
                Route("/files/video.mp4", self.video),
            ]
        )

    async def _record(self, request: Request) -> Any:
        body = await request.json() if request.method == "POST" else None
        self.requests.append((request.method, request.url.path, dict(request.headers), body))
        return body

    def _story(self, task_id: str) -> str:
        """The next step of a task's life: queued, running, (odd), then done or failed."""
        count = self.polls[task_id] = self.polls.get(task_id, 0) + 1
        prompt = self.prompts[task_id]
        steps = ["running", "odd", "running", "done"] if prompt == "odd" else ["running", "done"]
        step = steps[min(count, len(steps)) - 1]
        return "failed" if step == "done" and prompt == "fail" else step

    def _new(self, prompt: str) -> str:
        task_id = f"t{len(self.prompts) + 1}"
        self.prompts[task_id] = prompt
        return task_id

    async def ds_create(self, request: Request) -> Response:
        body = await self._record(request)
        if request.headers.get("x-dashscope-async") != "enable":
            return JSONResponse(
                {
                    "code": "AccessDenied",
                    "message": "current user api does not support synchronous calls",
                    "request_id": "r-sync",
                },
                status_code=403,
            )
        task_id = self._new(body["input"].get("prompt", ""))
        return JSONResponse(
            {"output": {"task_status": "PENDING", "task_id": task_id}, "request_id": "r-1"}
        )

    async def ds_task(self, request: Request) -> Response:
        await self._record(request)
        task_id = request.path_params["task_id"]
        word = {"running": "RUNNING", "odd": "SUSPENDED", "done": "SUCCEEDED", "failed": "FAILED"}
        step = self._story(task_id)
        output: dict[str, Any] = {
            "task_id": task_id,
            "task_status": word[step],
            "submit_time": "2026-04-02 22:53:19.537",
            "scheduled_time": "2026-04-02 22:53:30.427",
        }
        if step == "done":
            output.update(
                end_time="2026-04-02 23:00:39.287", video_url=f"{self.base}/files/video.mp4"
            )
        if step == "failed":
            output.update(
                code="DataInspectionFailed", message="Input data may contain inappropriate content."
            )
        return JSONResponse({"request_id": "52cade0d", "output": output})

    async def kik_create(self, request: Request) -> Response:
        body = await self._record(request)
        return JSONResponse({"task_id": self._new(body.get("prompt", ""))})

    async def kik_task(self, request: Request) -> Response:
        await self._record(request)
        task_id = request.path_params["task_id"]
        step = self._story(task_id)
        word = {"running": "running", "odd": "rendering", "done": "success", "failed": "failed"}
        finished = 1719000050000 if step in ("done", "failed") else None
        error = None
        if step == "failed":
            error = {
                "code": "upstream_task_failed",
                "message": "upstream video generation task failed",
            }
        return JSONResponse(
            {
                "task_id": task_id,
                "task_status": word[step],
                "model": "wan2.1-t2v-turbo",
                "created": 1719000000000,
                "updated": 1719000005000,
                "completed": finished,
                "data": [{"url": f"{self.base}/files/video.mp4"}] if step == "done" else [],
                "error": error,
            }
        )

    async def nebula_create(self, request: Request) -> Response:
        body = await self._record(request)
        task_id = self._new(body.get("prompt", ""))
        return JSONResponse({"task_id": task_id, "status": "queued", "format": "mp4"})

    async def nebula_task(self, request: Request) -> Response:
        await self._record(request)
        task_id = request.path_params["task_id"]
        step = self._story(task_id)
        word = {
            "running": "in_progress",
            "odd": "moderation",
            "done": "succeeded",
            "failed": "failed",
        }
        data: dict[str, Any] = {"task_id": task_id, "status": word[step], "format": "mp4"}
        if step == "done":
            data["url"] = f"{self.base}/files/video.mp4"
        if step == "failed":
            data["error"] = {"code": 400, "message": "Prompt contains inappropriate content"}
        return JSONResponse(data)

    async def video(self, request: Request) -> Response:
        return Response(VIDEO, media_type="video/mp4")


@dataclass
class FlakyNative:
    """A native-dialect server without an event stream that fails on a script.

    `failures` is a list of (status, headers) answered, in order, before any real answer.
    A GET with `?wait=` is held until `finish` is set (a long-poll) when `long_poll` is on,
    and answered at once otherwise (a server that ignores `wait`).
    """

    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    long_poll: bool = False
    polls_before_done: int = 1
    finish: threading.Event = field(default_factory=threading.Event)
    keys: list[str | None] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/tasks", self.create, methods=["POST"]),
                Route("/v1/tasks/{task_id}", self.task),
            ]
        )

    def _failure(self, request: Request) -> Response | None:
        self.seen.append(f"{request.method} {request.url.path}")
        if not self.failures:
            return None
        status, headers = self.failures.pop(0)
        return JSONResponse(
            {"error": {"code": "busy", "message": f"Try later ({status})."}},
            status_code=status,
            headers={"x-request-id": f"req-{status}", **headers},
        )

    async def create(self, request: Request) -> Response:
        failed = self._failure(request)
        if failed is not None:
            return failed
        key = request.headers.get("idempotency-key")
        self.keys.append(key)
        task_id = next((t for t, v in self.tasks.items() if v["key"] == key), None)
        if task_id is None:
            task_id = f"n{len(self.tasks) + 1}"
            self.tasks[task_id] = {"key": key, "polls": 0}
        return JSONResponse(
            {"task_id": task_id, "status": "queued", "progress": 0}, status_code=202
        )

    async def task(self, request: Request) -> Response:
        failed = self._failure(request)
        if failed is not None:
            return failed
        task_id = request.path_params["task_id"]
        state = self.tasks[task_id]
        wait = float(request.query_params.get("wait", 0))
        if self.long_poll and wait:
            for _ in range(int(wait * 100)):
                if self.finish.is_set():
                    break
                await anyio.sleep(0.01)
            done = self.finish.is_set()
        else:
            state["polls"] += 1
            done = state["polls"] > self.polls_before_done
        body: dict[str, Any] = {"task_id": task_id, "status": "processing", "progress": 10}
        if done:
            body = {
                "task_id": task_id,
                "status": "completed",
                "progress": 100,
                "result": {"video_url": "/v.mp4"},
            }
        return JSONResponse(body, headers={"retry-after-ms": "10"} if not done else {})


class BreakingFiles:
    """Serves one file over raw HTTP/1.1; the first `breaks` answers stop halfway and hang up.

    Ranges are honoured (206). With `extra`, every answer is a 206 whose Content-Range claims
    `extra` bytes more than the file has.
    """

    def __init__(self, data: bytes, *, breaks: int = 1, extra: int = 0) -> None:
        self.data = data
        self.breaks = breaks
        self.extra = extra
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                outer._answer(self.rfile, self.connection)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/video.mp4"

    @property
    def ranges(self) -> list[str | None]:
        return [headers.get("range") for headers in self.headers]

    def __enter__(self) -> BreakingFiles:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, rfile: Any, connection: socket.socket) -> None:
        headers: dict[str, str] = {}
        rfile.readline()
        while (line := rfile.readline().decode().strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.headers.append(headers)
        wanted = headers.get("range")
        start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
        body = self.data[start:]
        total = len(self.data) + self.extra
        partial = bool(wanted) or self.extra > 0
        head = f"HTTP/1.1 {'206 Partial Content' if partial else '200 OK'}\r\n"
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        if partial:
            head += f"Content-Range: bytes {start}-{total - 1}/{total}\r\n"
        connection.sendall((head + "\r\n").encode())
        if self.breaks > 0:
            self.breaks -= 1
            connection.sendall(body[: len(body) // 2])
            connection.shutdown(socket.SHUT_RDWR)
            return
        connection.sendall(body)
