"""The instrumented fake upstream of `bench/wait_detection.py` and `bench/upstream_polling.py`.

`start_fake` starts it in its own process, so that the gateway, the fake and the orchestrating
script each have their own interpreter (and GIL); run as a script it is that process:

    python bench/upstream_support.py fake --port P --time-scale S

serves vidgate's fake DashScope API (`vidgate.testing`, unchanged routes and answers) with
three additions made here, outside `src/`:

* each task's render time is read from its prompt (`make_prompt`), so that the benchmark
  decides every task's length exactly: `render seconds / time_scale` on the wall clock, no
  queue time; the task is due (completes upstream) at `submitted_at + that`;
* every call is time-stamped on arrival, by route kind (`submit`, `query`, `result`…), for the
  rate-limit check over sliding one-second windows;
* per task, the number of status queries it received and the moment a query first answered
  SUCCEEDED (when the gateway saw the completion, before it downloaded the result);
* the task listing answers from a snapshot up to 0.5 s old (`FakeState.list_snapshot`), as an
  indexed server does, so that a page costs the fake a page's work, not a pass over every task.

`GET /_bench/progress` answers small counts (cheap, polled once a second while the run goes);
`GET /_bench/dump` answers everything recorded, once, at the end.
"""

from __future__ import annotations

import json
import re
import threading
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import HOST, Process, Processes, free_port, helper_parser, wait_http

SUPPORT = Path(__file__).resolve()
PROMPT_RE = re.compile(r"bench task #(\d+) renders ([0-9.]+) s")


def make_prompt(index: int, render_seconds: float) -> str:
    """The prompt that carries a task's index and its planned render time (unscaled seconds)."""
    return f"vidgate bench task #{index} renders {render_seconds:.3f} s"


def parse_prompt(prompt: str | None) -> tuple[int, float] | None:
    """The index and planned render seconds a `make_prompt` prompt carries, else None."""
    found = PROMPT_RE.search(prompt or "")
    return (int(found.group(1)), float(found.group(2))) if found else None


def start_fake(processes: Processes, time_scale: float) -> Process:
    """The instrumented fake DashScope in its own process, once it answers."""
    port = free_port()
    argv = ["fake", "--port", str(port), "--time-scale", str(time_scale)]
    fake = processes.helper("fake", SUPPORT, *argv, port=port)
    wait_http(fake, "/_bench/progress")
    return fake


LIST_SNAPSHOT = 0.5
"""Modelled seconds the fake's task listing may answer from one snapshot."""


def provider_toml(base_url: str, **settings: Any) -> str:
    """A config with one DashScope provider `up` on the fake, the default route."""
    fields = {"kind": "dashscope", "base_url": base_url, "api_key": "sk-bench", **settings}
    lines = ["[providers.up]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
    lines += ["", "[routes]", 'default = ["up"]', ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the instrumented fake upstream (runs in its own process)


def serve_fake(port: int, time_scale: float) -> None:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from vidgate import Status, Task, VideoRequest
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
        list_snapshot=LIST_SNAPSHOT / time_scale,
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
    parser, commands = helper_parser(
        "the instrumented fake upstream", fake="serve the instrumented fake DashScope API"
    )
    commands["fake"].add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    # uvicorn turns SIGTERM (sent by `Processes.stop`) into a graceful shutdown.
    serve_fake(args.port, args.time_scale)


if __name__ == "__main__":
    main()
