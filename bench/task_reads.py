"""Task reads: `GET /v1/tasks/{id}` throughput of a real gateway against a bare uvicorn app.

What it measures: requests per second (and p50/p99 latency) of `GET /v1/tasks/{id}` served by
`vidgate serve --no-access-log` in its own process (SQLite store in a temporary data dir), driven
by a separate load-generator process over N concurrent HTTP/1.1 keep-alive connections on
127.0.0.1 for a fixed window after a warm-up. Two reads are measured:

- a completed task (a 2 s 480P t2v task rendered by the local renderer first), whose JSON carries
  a freshly signed result URL and usage, on a gateway with its engine running (idle);
- a queued, in-flight task on a gateway with `VIDGATE_RUN_ENGINE=false`, as clients poll it.

Each is compared with a baseline measured in the same run: a bare Starlette app on uvicorn (same
loop and HTTP implementation, one worker, no access log) answering a constant JSON body made of
the very bytes the gateway returned for that read.

Target: `ratio = gateway / bare >= 0.5` for both reads. Usage:

    .venv/bin/python bench/task_reads.py [--duration 5] [--rounds 2] [--warmup 1] [--concurrency 32]
        [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import httpx

from harness import (
    Header,
    LoadResult,
    Process,
    Processes,
    bottleneck_note,
    bounded,
    combine,
    cpu_count,
    load_note,
    load_table,
    parse_with_quick,
    ratio_line,
    server_stack,
)

TARGET = 0.5
TASK_BODY = {"prompt": "A cat running across a meadow", "duration": 2, "resolution": "480P"}
QUICK = {"duration": 1.0, "rounds": 1, "warmup": 0.5}


@dataclass
class Target:
    """A server to load, the path and headers of the read, and the body it answers."""

    server: Process
    path: str
    headers: list[Header]
    body: bytes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=float, default=5.0, help="measured seconds per scenario, all rounds"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds the duration is split into"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per round")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--render-timeout", type=float, default=90.0, help="seconds to wait for the render"
    )
    args = parse_with_quick(parser, QUICK)
    if args.rounds < 1 or args.duration <= 0 or args.concurrency < 1:
        parser.error("--rounds and --concurrency must be at least 1, --duration above 0")
    return args


def submit(client: httpx.Client) -> str:
    response = client.post("/v1/tasks", json=TASK_BODY)
    if response.status_code != 202:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
    task_id: str = response.json()["task_id"]
    return task_id


def wait_completed(client: httpx.Client, task_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/tasks/{task_id}", params={"wait": 10})
        response.raise_for_status()
        status = response.json()["status"]
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise RuntimeError(f"the bench task ended {status}: {response.text}")
    raise RuntimeError(f"the bench task did not complete in {timeout:.0f} s")


def read_once(client: httpx.Client, task_id: str, expected_status: str) -> bytes:
    response = client.get(f"/v1/tasks/{task_id}")
    response.raise_for_status()
    if response.json()["status"] != expected_status:
        raise RuntimeError(f"expected a {expected_status} task: {response.text}")
    return response.content


def prepare_gateway(processes: Processes, args: argparse.Namespace, *, completed: bool) -> Target:
    """A gateway with one task (rendered to completion, or left queued) and a key to read it."""
    name = "gateway-completed" if completed else "gateway-queued"
    gateway = processes.gateway(name, run_engine=completed)
    with gateway.client(timeout=30) as client:
        task_id = submit(client)
        if completed:
            wait_completed(client, task_id, args.render_timeout)
        body = read_once(client, task_id, "completed" if completed else "queued")
    return Target(gateway, f"/v1/tasks/{task_id}", [gateway.auth], body)


def measure(
    processes: Processes, target: Target, args: argparse.Namespace, seconds: float
) -> LoadResult:
    return processes.run_load(
        target.server,
        method="GET",
        path=target.path,
        headers=target.headers,
        concurrency=args.concurrency,
        duration=seconds,
        warmup=args.warmup,
    )


def main() -> int:
    args = parse_args()
    print(
        f"GET /v1/tasks/{{id}}: {args.concurrency} keep-alive connections, "
        f"{args.duration:g} s measured per scenario in {args.rounds} alternating rounds "
        f"(each after {args.warmup:g} s warm-up), "
        f"{cpu_count()} cores, 127.0.0.1"
    )
    print(f"servers: {server_stack()}; each in its own process")
    print(f"completed read: gateway engine on (idle); queued read: engine off; {load_note()}")
    with bounded(), Processes("vidgate-bench-reads-") as processes:
        done = prepare_gateway(processes, args, completed=True)
        queued = prepare_gateway(processes, args, completed=False)
        bare_done = Target(processes.bare("bare-completed", done.body), "/", [], done.body)
        bare_queued = Target(processes.bare("bare-queued", queued.body), "/", [], queued.body)
        # Rounds alternate baseline and gateway, so that load from elsewhere on a shared
        # machine falls on both alike; idle servers wait meanwhile.
        scenarios = [bare_done, done, bare_queued, queued]
        runs: dict[int, list[LoadResult]] = {i: [] for i in range(len(scenarios))}
        seconds = args.duration / args.rounds
        for _ in range(args.rounds):
            for i, target in enumerate(scenarios):
                runs[i].append(measure(processes, target, args, seconds))
        bare_done_r, done_r, bare_queued_r, queued_r = (combine(runs[i]) for i in runs)

    print()
    rows = [
        (f"bare, completed body ({len(done.body)} B)", bare_done_r),
        ("gateway, completed task", done_r),
        (f"bare, queued body ({len(queued.body)} B)", bare_queued_r),
        ("gateway, queued task (engine off)", queued_r),
    ]
    print("\n".join(load_table("req/s", rows)))
    print()
    print(bottleneck_note(bare_done_r))
    failures = 0
    for label, result in (
        ("gateway completed", done_r),
        ("gateway queued", queued_r),
        ("bare completed", bare_done_r),
        ("bare queued", bare_queued_r),
    ):
        bad = result.unexpected(200)
        if bad or result.lost_connections:
            failures += 1
            print(
                f"ERROR {label}: {bad} non-200 responses {result.statuses_total}, "
                f"{result.lost_connections} connections lost"
            )
    print(ratio_line("ratio completed", "gateway / bare", done_r.rps, bare_done_r.rps, TARGET))
    print(ratio_line("ratio queued   ", "gateway / bare", queued_r.rps, bare_queued_r.rps, TARGET))
    print(load_note(after=True))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
