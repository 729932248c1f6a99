"""Wait detection: how soon a client sees that a task finished, and what it costs in requests.

Method. One `vidgate serve --no-access-log` process (engine on, SQLite in a temporary data dir)
fronts the instrumented fake DashScope of `bench/upstream_support.py` in its own process; each
task renders upstream for the time its prompt names (`make_prompt`), spread evenly from
`--min-seconds` to `--max-seconds` (5 to 60 s), in real time. The gateway polls the fake
(`poll_interval` 0.5 s, `max_poll_interval` 2 s) and records the completion (`finished_at`)
once it has re-hosted the result. Four clients wait for their own copy of every task length,
all at once, on the same gateway:

* vidgate `AsyncClient.wait()` (the task's event stream; long-poll where there is none);
* seed 000's script: `GET /v1/tasks/{id}` at once, then every 15 s;
* the DashScope SDK's `wait()` schedule: 1, 1, 2, 2, 2, 4, 4, 4, then 5 s;
* a 1 s poller, as the OpenAI SDK's `poll()` without a server hint.

Detection latency = the moment the client's wait returns - the task's `finished_at` (one
machine, one clock). Requests per task = every HTTP request the client made for that task,
the create included; nothing is downloaded. Target: vidgate's p95 < 100 ms with <= 4 requests
per task. Usage:

    .venv/bin/python bench/wait_detection.py [--tasks 12] [--min-seconds 5] [--max-seconds 60]
        [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

import vidgate
from harness import (
    TERMINAL,
    Column,
    Gateway,
    Processes,
    backoff,
    bounded,
    epoch,
    parse_with_quick,
    percentile,
    table,
    verdict,
)
from upstream_support import make_prompt, provider_toml, start_fake

LATENCY_TARGET_MS = 100.0
REQUEST_TARGET = 4.0
DASHSCOPE_SDK_SCHEDULE = (1.0, 1.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 5.0)
QUICK = {"tasks": 3, "min_seconds": 2.0, "max_seconds": 8.0}
Strategy = Callable[[httpx.AsyncClient, str, str], Awaitable[tuple[float, int]]]


@dataclass
class Outcome:
    """One task as one client saw it."""

    seconds: float
    latency_ms: float
    requests: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=12, help="task lengths per client")
    parser.add_argument("--min-seconds", type=float, default=5.0)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parse_with_quick(parser, QUICK)


def start_gateway(processes: Processes, tasks: int) -> Gateway:
    """The fake, and `vidgate serve` in front of it with a key."""
    fake = start_fake(processes, 1)
    config = processes.workdir / "providers.toml"
    config.write_text(
        provider_toml(
            fake.url + "/api/v1",
            concurrency=tasks,
            requests_per_second=1000,
            poll_interval=0.5,
            max_poll_interval=2.0,
            expected_time_scale=0.01,
        )
    )
    return processes.gateway("gateway", config=config, allow_loopback=True)


def latency_ms(finished_at: datetime | str | None, returned: float) -> float:
    if finished_at is None:
        raise RuntimeError("a finished task without finished_at")
    stamp = epoch(finished_at) if isinstance(finished_at, str) else finished_at.timestamp()
    return (returned - stamp) * 1000


def poller(intervals: Callable[[], Iterator[float]]) -> Strategy:
    """A client that GETs the task at once, then after each interval, until it ends."""

    async def wait(http: httpx.AsyncClient, task_id: str, key: str) -> tuple[float, int]:
        headers = {"Authorization": f"Bearer {key}"}
        for requests, pause in enumerate(itertools.chain([0.0], intervals()), start=1):
            await asyncio.sleep(pause)
            response = await http.get(f"/v1/tasks/{task_id}", headers=headers)
            body: dict[str, Any] = response.json()
            if body["status"] in TERMINAL:
                return latency_ms(body["finished_at"], time.time()), requests
        raise AssertionError("unreachable")

    return wait


def seed_000() -> Iterator[float]:
    return itertools.repeat(15.0)


def dashscope_sdk() -> Iterator[float]:
    return backoff(DASHSCOPE_SDK_SCHEDULE)


def one_second() -> Iterator[float]:
    return itertools.repeat(1.0)


async def run_vidgate(url: str, key: str, seconds: float) -> Outcome:
    sent: list[str] = []

    async def count(request: httpx.Request) -> None:
        sent.append(request.url.path)

    async with (
        httpx.AsyncClient(event_hooks={"request": [count]}) as http,
        vidgate.AsyncClient(url, key, environ={}, http_client=http) as sdk,
    ):
        task = await sdk.create(prompt=make_prompt(0, seconds), duration=5)
        done = await sdk.wait(task)
        returned = time.time()
    return Outcome(seconds, latency_ms(done.finished_at, returned), len(sent))


async def run_poller(
    strategy: Strategy, http: httpx.AsyncClient, key: str, seconds: float
) -> Outcome:
    created = await http.post(
        "/v1/tasks",
        json={"prompt": make_prompt(0, seconds), "duration": 5},
        headers={"Authorization": f"Bearer {key}"},
    )
    created.raise_for_status()
    latency, requests = await strategy(http, created.json()["task_id"], key)
    return Outcome(seconds, latency, requests + 1)


async def run_all(url: str, key: str, lengths: list[float]) -> dict[str, list[Outcome]]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    pollers = {
        "seed 000 (every 15 s)": poller(seed_000),
        "DashScope SDK (1,1,2,2,2,4,4,4,5 s)": poller(dashscope_sdk),
        "1 s poller (OpenAI SDK)": poller(one_second),
    }
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
        jobs: dict[str, list[asyncio.Task[Outcome]]] = {
            "vidgate wait()": [asyncio.create_task(run_vidgate(url, key, s)) for s in lengths]
        }
        for name, strategy in pollers.items():
            jobs[name] = [asyncio.create_task(run_poller(strategy, http, key, s)) for s in lengths]
        return {name: list(await asyncio.gather(*tasks)) for name, tasks in jobs.items()}


def summarise(results: dict[str, list[Outcome]]) -> dict[str, dict[str, float]]:
    rows = {}
    for name, outcomes in results.items():
        latencies = [o.latency_ms for o in outcomes]
        requests = [float(o.requests) for o in outcomes]
        rows[name] = {
            "tasks": len(outcomes),
            "p50_ms": percentile(latencies, 0.50, "rounded-index"),
            "p95_ms": percentile(latencies, 0.95, "rounded-index"),
            "max_ms": max(latencies),
            "requests_mean": statistics.fmean(requests),
            "requests_max": max(requests),
        }
    return rows


def report(rows: dict[str, dict[str, float]]) -> str:
    columns = [
        Column("client", 38, "<"),
        Column("tasks", 5),
        *(Column(title, 9) for title in ("p50 ms", "p95 ms", "max ms", "req/task")),
    ]
    cells = [
        [
            name,
            f"{row['tasks']:.0f}",
            *(f"{row[figure]:.1f}" for figure in ("p50_ms", "p95_ms", "max_ms")),
            f"{row['requests_mean']:.2f}",
        ]
        for name, row in rows.items()
    ]
    lines = table(columns, cells, "ruled")
    ours = rows["vidgate wait()"]
    lines.append("")
    for name, row in rows.items():
        if row is ours:
            continue
        lines.append(
            f"{name}: p95 latency x{row['p95_ms'] / ours['p95_ms']:.0f} vidgate's, "
            f"requests x{row['requests_mean'] / ours['requests_mean']:.1f}"
        )
    passed = ours["p95_ms"] < LATENCY_TARGET_MS and ours["requests_max"] <= REQUEST_TARGET
    lines.append(
        f"target: vidgate p95 < {LATENCY_TARGET_MS:.0f} ms with <= {REQUEST_TARGET:.0f} "
        f"requests per task: {ours['p95_ms']:.1f} ms, at most {ours['requests_max']:.0f}: "
        f"{verdict(passed)}"
    )
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    step = (args.max_seconds - args.min_seconds) / max(1, args.tasks - 1)
    lengths = [round(args.min_seconds + i * step, 3) for i in range(args.tasks)]
    # Every client's wait ends within its longest task plus its last interval (15 s at most).
    limit = lengths[-1] + 120
    with bounded(), Processes("wait-detection-") as processes:
        gateway = start_gateway(processes, 4 * args.tasks)
        print(
            f"{4 * args.tasks} tasks of {lengths[0]:g}-{lengths[-1]:g} s on {gateway.url}; "
            f"about {lengths[-1] + 20:.0f} s...",
            file=sys.stderr,
        )
        started = time.monotonic()
        results = asyncio.run(asyncio.wait_for(run_all(gateway.url, gateway.key, lengths), limit))
        took = time.monotonic() - started
    rows = summarise(results)
    print(report(rows))
    print(f"(the run took {took:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
