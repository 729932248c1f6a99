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
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

import vidgate
from upstream_support import (
    HOST,
    Process,
    clean_env,
    free_port,
    make_prompt,
    spawn,
    stop,
    wait_http,
)
from vidgate.client.policy import DASHSCOPE_SCHEDULE

TERMINAL = ("completed", "failed", "cancelled")
LATENCY_TARGET_MS = 100.0
REQUEST_TARGET = 4.0
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
    return parser.parse_args()


def providers_toml(base_url: str, tasks: int) -> str:
    return "\n".join(
        [
            "[providers.up]",
            'kind = "dashscope"',
            f'base_url = "{base_url}"',
            'api_key = "sk-bench"',
            f"concurrency = {tasks}",
            "requests_per_second = 1000",
            "poll_interval = 0.5",
            "max_poll_interval = 2.0",
            "expected_time_scale = 0.01",
            "",
            "[routes]",
            'default = ["up"]',
            "",
        ]
    )


def vidgate_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vidgate.cli.main", *args]


def start_fake(workdir: Path) -> Process:
    """The instrumented fake DashScope of `upstream_support.py`, in real time."""
    port = free_port()
    argv = [sys.executable, str(Path(__file__).with_name("upstream_support.py")), "fake"]
    argv += ["--port", str(port), "--time-scale", "1"]
    fake = spawn("fake", argv, clean_env({}), f"http://{HOST}:{port}", workdir / "fake.log")
    wait_http(fake, "/_bench/progress")
    return fake


def start_gateway(workdir: Path, fake: Process, tasks: int) -> tuple[Process, str]:
    """`vidgate serve` in front of the fake, and a key for it."""
    config = workdir / "providers.toml"
    config.write_text(providers_toml(fake.url + "/api/v1", tasks))
    port = free_port()
    env = clean_env(
        {
            "VIDGATE_DATA_DIR": str(workdir / "data"),
            "VIDGATE_HOST": HOST,
            "VIDGATE_PORT": str(port),
            "VIDGATE_CONFIG": str(config),
            "VIDGATE_ALLOW_NETWORKS": "127.0.0.0/8",
        }
    )
    created = subprocess.run(
        vidgate_command("keys", "create", "--name", "bench"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    argv = vidgate_command("serve", "--no-access-log", "--log-level", "warning")
    gateway = spawn("gateway", argv, env, f"http://{HOST}:{port}", workdir / "gateway.log")
    wait_http(gateway, "/healthz")
    return gateway, created.stdout.strip()


def latency_ms(finished_at: datetime | str | None, returned: float) -> float:
    if isinstance(finished_at, str):
        finished_at = datetime.fromisoformat(finished_at.replace("Z", "+00:00"))
    if finished_at is None:
        raise RuntimeError("a finished task without finished_at")
    return (returned - finished_at.timestamp()) * 1000


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
    return itertools.chain(DASHSCOPE_SCHEDULE, itertools.repeat(DASHSCOPE_SCHEDULE[-1]))


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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(results: dict[str, list[Outcome]]) -> dict[str, dict[str, float]]:
    rows = {}
    for name, outcomes in results.items():
        latencies = [o.latency_ms for o in outcomes]
        requests = [float(o.requests) for o in outcomes]
        rows[name] = {
            "tasks": len(outcomes),
            "p50_ms": percentile(latencies, 0.50),
            "p95_ms": percentile(latencies, 0.95),
            "max_ms": max(latencies),
            "requests_mean": statistics.fmean(requests),
            "requests_max": max(requests),
        }
    return rows


def report(rows: dict[str, dict[str, float]]) -> str:
    head = f"{'client':<38} {'tasks':>5} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'req/task':>9}"
    lines = [head, "-" * len(head)]
    for name, row in rows.items():
        lines.append(
            f"{name:<38} {row['tasks']:>5.0f} {row['p50_ms']:>9.1f} {row['p95_ms']:>9.1f} "
            f"{row['max_ms']:>9.1f} {row['requests_mean']:>9.2f}"
        )
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
        f"{'PASS' if passed else 'MISS'}"
    )
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    step = (args.max_seconds - args.min_seconds) / max(1, args.tasks - 1)
    lengths = [round(args.min_seconds + i * step, 3) for i in range(args.tasks)]
    with tempfile.TemporaryDirectory(prefix="wait-detection-") as name:
        workdir = Path(name)
        fake = start_fake(workdir)
        gateway = None
        try:
            gateway, key = start_gateway(workdir, fake, 4 * args.tasks)
            print(
                f"{4 * args.tasks} tasks of {lengths[0]:g}-{lengths[-1]:g} s on {gateway.url}; "
                f"about {lengths[-1] + 20:.0f} s...",
                file=sys.stderr,
            )
            started = time.monotonic()
            results = asyncio.run(run_all(gateway.url, key, lengths))
            took = time.monotonic() - started
        finally:
            for process in (gateway, fake):
                if process is not None:
                    stop(process)
    rows = summarise(results)
    print(report(rows))
    print(f"(the run took {took:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
