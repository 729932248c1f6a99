"""Plumbing for `bench/upstream_polling.py`: the instrumented fake upstream and process helpers.

Imported by `bench/upstream_polling.py`. Run as a script it is the fake upstream process that
benchmark starts, so that the gateway, the fake and the orchestrating script each have their
own interpreter (and GIL):

    python bench/upstream_support.py fake --port P --time-scale S

serves vidgate's fake DashScope API (`vidgate.testing`, unchanged routes and answers) with
three additions made here, outside `src/`:

* each task's render time is read from its prompt (`make_prompt`), so that the benchmark
  decides every task's length exactly: `render seconds / time_scale` on the wall clock, no
  queue time; the task is due (completes upstream) at `submitted_at + that`;
* every call is time-stamped on arrival, by route kind (`submit`, `query`, `result`…), for the
  rate-limit check over sliding one-second windows;
* per task, the number of status queries it received and the moment a query first answered
  SUCCEEDED (when the gateway saw the completion, before it downloaded the result).

`GET /_bench/progress` answers small counts (cheap, polled once a second while the run goes);
`GET /_bench/dump` answers everything recorded, once, at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import threading
import time
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
START_TIMEOUT = 60.0
PROMPT_RE = re.compile(r"bench task #(\d+) renders ([0-9.]+) s")

__all__ = [
    "HOST",
    "Process",
    "clean_env",
    "free_port",
    "make_prompt",
    "parse_prompt",
    "process_cpu_seconds",
    "process_memory_kib",
    "spawn",
    "stop",
    "wait_http",
]


# --------------------------------------------------------------------------------------------
# shared helpers


def make_prompt(index: int, render_seconds: float) -> str:
    """The prompt that carries a task's index and its planned render time (unscaled seconds)."""
    return f"vidgate bench task #{index} renders {render_seconds:.3f} s"


def parse_prompt(prompt: str | None) -> tuple[int, float] | None:
    """The index and planned render seconds a `make_prompt` prompt carries, else None."""
    found = PROMPT_RE.search(prompt or "")
    return (int(found.group(1)), float(found.group(2))) if found else None


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (Linux /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_memory_kib(pid: int) -> dict[str, int]:
    """`VmRSS` and `VmHWM` (the RSS peak) of a process, in KiB (Linux /proc/PID/status)."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without any `VIDGATE_*` setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env.pop("XDG_DATA_HOME", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, argv: Sequence[str], env: Mapping[str, str], url: str, log: Path) -> Process:
    """Start a server process with its output in `log`."""
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            list(argv),
            cwd=Path(__file__).resolve().parent.parent,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(name, popen, url, log)


def wait_http(process: Process, path: str, timeout: float = START_TIMEOUT) -> None:
    """Wait until `GET path` answers 200, or raise with the log's tail."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited at start:\n{process.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(process.url + path, timeout=10.0).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} did not start:\n{process.log_tail()}")
        time.sleep(0.1)


def stop(process: Process) -> None:
    """SIGTERM, then SIGKILL after 10 s; only this process, by its id."""
    if process.popen.poll() is None:
        process.popen.terminate()
        try:
            process.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# the instrumented fake upstream (runs in its own process)


def serve_fake(port: int, time_scale: float) -> None:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from vidgate.models import Status, Task, VideoRequest
    from vidgate.testing import Counters, FakeState, FakeTask, Timing, create_app

    class TimedCounters(Counters):
        """The fake's counters, plus the arrival time of every call by route kind."""

        def __init__(self) -> None:
            super().__init__()
            self.stamps: dict[str, array[float]] = {}
            self._stamp_lock = threading.Lock()

        def record(self, kind: str, route: str) -> None:
            now = time.time()
            super().record(kind, route)
            with self._stamp_lock:
                self.stamps.setdefault(kind, array("d")).append(now)

    @dataclass
    class BenchState(FakeState):
        """A fake DashScope whose tasks render for the time their prompt names."""

        scale: float = 1.0
        first_completed: dict[str, float] = field(default_factory=dict)
        queries: Counter[str] = field(default_factory=Counter)

        def add(
            self,
            task_id: str,
            owner: str,
            request: VideoRequest,
            body: dict[str, Any],
            *,
            default_duration: int = 5,
            request_id: str = "",
        ) -> FakeTask:
            task = super().add(
                task_id,
                owner,
                request,
                body,
                default_duration=default_duration,
                request_id=request_id,
            )
            planned = parse_prompt(request.prompt)
            if planned is not None:
                task.queue_seconds = 0.0
                task.render_seconds = planned[1] / self.scale
            return task

        def view(self, task: FakeTask, base_url: str) -> Task:
            seen = super().view(task, base_url)
            self.queries[task.task_id] += 1
            if seen.status is Status.COMPLETED and task.task_id not in self.first_completed:
                self.first_completed[task.task_id] = time.time()
            return seen

    counters = TimedCounters()
    state = BenchState(
        dialect="dashscope",
        timing=Timing(queue_seconds=0.0, time_scale=time_scale),
        counters=counters,
        scale=time_scale,
    )
    app = create_app(state)

    async def progress(_request: Request) -> Response:
        tasks = state.tasks()
        now = state.now()
        return JSONResponse(
            {
                "tasks": len(tasks),
                "due": sum(1 for t in tasks if t.due_at <= now),
                "seen_completed": len(state.first_completed),
                "downloads": counters.calls("result"),
                "calls": counters.calls(),
            }
        )

    async def dump(_request: Request) -> Response:
        tasks = [
            {
                "task_id": t.task_id,
                "prompt": t.request.prompt,
                "submitted_at": t.submitted_at,
                "due_at": t.due_at,
                "render_seconds": t.render_seconds,
                "first_completed_at": state.first_completed.get(t.task_id),
                "queries": state.queries[t.task_id],
            }
            for t in state.tasks()
        ]
        stamps = {kind: list(values) for kind, values in counters.stamps.items()}
        return JSONResponse(
            {
                "tasks": tasks,
                "stamps": stamps,
                "counters": counters.snapshot(),
                "scale": state.scale,
            }
        )

    app.router.routes.append(Route("/_bench/progress", progress, methods=["GET"]))
    app.router.routes.append(Route("/_bench/dump", dump, methods=["GET"]))
    # Same stack as `vidgate serve`: uvicorn's auto loop (uvloop) and http (httptools).
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the upstream-polling benchmark's fake upstream")
    commands = parser.add_subparsers(dest="command", required=True)
    fake = commands.add_parser("fake", help="serve the instrumented fake DashScope API")
    fake.add_argument("--port", type=int, required=True)
    fake.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    # uvicorn turns SIGTERM (sent by `stop`) into a graceful shutdown.
    serve_fake(args.port, args.time_scale)


if __name__ == "__main__":
    main()
