"""Wait detection: how soon a client sees that a task finished, and what it costs in requests.

Method. One `vidgate serve --no-access-log` process (engine on, SQLite in a temporary data dir)
fronts the instrumented fake DashScope of `bench/upstream_support.py` in its own process; each
task renders upstream for the time its prompt names (`make_prompt`), spread evenly from
`--min-seconds` to `--max-seconds` (5 to 60 s), in real time. The gateway polls the fake
(`poll_interval` 0.5 s, `max_poll_interval` 2 s) and records the completion (`finished_at`)
once it has re-hosted the result. vidgate's `AsyncClient.wait()` (the task's event stream;
long-poll where there is none) waits for every task length, all at once, on that gateway.

Detection latency = the moment the client's wait returns - the task's `finished_at` (one
machine, one clock). Requests per task = every HTTP request the client made for that task,
the create included; nothing is downloaded. Both are compared with fixed bounds that a slow
or missed wake-up breaks; a fixed-interval poller is not run for comparison, since its
latency and request count follow from its own interval and so could not fail.
Target: p95 < 100 ms with <= 4 requests per task, reported as PASS or MISS. Usage:

    .venv/bin/python bench/wait_detection.py [--tasks 12] [--min-seconds 5] [--max-seconds 60]
        [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

import vidgate
from harness import (
    Column,
    Gateway,
    Processes,
    bounded,
    epoch,
    load_note,
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


async def run_all(url: str, key: str, lengths: list[float]) -> dict[str, list[Outcome]]:
    tasks = [asyncio.create_task(run_vidgate(url, key, s)) for s in lengths]
    return {"vidgate wait()": list(await asyncio.gather(*tasks))}


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
    lines.append(
        f"target: vidgate p95 < {LATENCY_TARGET_MS:.0f} ms with <= {REQUEST_TARGET:.0f} "
        f"requests per task: {ours['p95_ms']:.1f} ms, at most {ours['requests_max']:.0f}: "
        f"{verdict(passed(rows))}"
    )
    return "\n".join(lines)


def passed(rows: dict[str, dict[str, float]]) -> bool:
    ours = rows["vidgate wait()"]
    return ours["p95_ms"] < LATENCY_TARGET_MS and ours["requests_max"] <= REQUEST_TARGET


def main() -> int:
    args = parse_args()
    step = (args.max_seconds - args.min_seconds) / max(1, args.tasks - 1)
    lengths = [round(args.min_seconds + i * step, 3) for i in range(args.tasks)]
    # Every wait ends within its longest task, plus a margin for a slow machine.
    limit = lengths[-1] + 120
    print(load_note(), flush=True)
    with bounded(), Processes("wait-detection-") as processes:
        gateway = start_gateway(processes, args.tasks)
        print(
            f"{args.tasks} tasks of {lengths[0]:g}-{lengths[-1]:g} s on {gateway.url}; "
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
    print(load_note(after=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
