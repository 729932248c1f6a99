"""Upstream polling: 10,000 in-flight upstream tasks on one gateway, in real time.

What it measures (issue 4). One `vidgate serve --no-access-log` process (one uvicorn worker,
engine on, SQLite store in a temporary data dir) fronts one instrumented fake DashScope API
(`bench/upstream_support.py fake`: `vidgate.testing`'s fake, in its own process) on 127.0.0.1.
`--tasks` tasks are submitted through `POST /v1/tasks` over `--submit-concurrency` connections
while the engine runs; the fake renders each for its own planned time, spread evenly from
`--min-render` to `--max-render` seconds (30 s to 10 min), and the gateway polls them all
(`[providers.up] concurrency` = the task count, so none waits for a slot). Reported:

* upstream status calls per task: the task queries and listing pages (a sweep's) the fake
  received / tasks;
* detection lag: the gateway task's `finished_at` (result downloaded, probed, task marked
  completed) - the moment the fake task completed (its planned due time), as a fraction of the
  task's length (upstream submit to completion), p50/p95/max; split into the poll's lag (the
  first query that answered SUCCEEDED - due) and re-hosting (finished_at - that query);
* the gateway's CPU (utime + stime from /proc/PID/stat, from its start to the last task): its
  share of a core over the run, and per upstream status call (CPU per poll); its RSS peak
  (VmHWM);
* the rate limit: the most API calls (submit + query) the fake received in any sliding 1 s
  window, against the provider's `requests_per_second`;
* duplicate upstream submits (one gateway task created twice upstream) and the peak number of
  tasks in flight upstream at once.

Bound: the calls a fixed 5 s poller makes for the same tasks, `ceil(D / 5) + 1` for a task of
D seconds: a count of the 5 s intervals in each task, fixed by the plan, against which the
gateway's measured calls can fail. The lag is compared with the task's own length, a physical
bound; no fixed poller's lag is computed, since a figure that follows from its own interval
could not fail.

Targets: calls per task <= 10% of the bound's; p95 lag <= 10% of the task's duration; gateway
CPU <= 50% of a core over the run; gateway RSS peak <= 300 MB; the rate limit never exceeded.
A run whose gateway CPU peaks at 90% of a core or more over 5 s is flagged SATURATED: its lag
then measures the gateway's CPU, not its schedule.

Time scaling (`--time-scale S`, default 1: real time): every duration the schedule sees is
divided by S, so that calls per task and lag fractions are those of real time. The fake renders
D/S seconds; the provider is configured with `poll_interval = 5/S`, `max_poll_interval = 60/S`,
`expected_time_scale = 1/S` (the DashScope API's typical times, /S) and `requests_per_second =
--rps x S` (the same calls per modelled second). What is not scaled is the gateway's own costs
(its 0.25 s poll-claim loop, the HTTP calls, the SQLite writes, the download and probe of each
result): they weigh S times more against a task than in real time, so the measured lag is
pessimistic (the table also shows it with re-hosting counted at its real, unscaled duration),
and the gateway makes S times as many calls per wall second as in real time. Its CPU is shown
per wall second (a share near 100% of a core, or a busy machine, means the gateway could not
keep up and the lag figures measure that) and per modelled second (what real time would cost at
the same work per call).

Request shapes (`--shapes`): `matched` (the default) gives each task the shape whose typical
time the DashScope API quotes covers its render time (5 s 720P under 3 min, 10 s 720P under 6
min, 10 s 1080P above), as a real upstream's times follow the request; `fixed` sends every task
as 5 s 720P (typical 1-3 min), so the gateway knows nothing of each task's length. Tasks are
submitted longest first, so that all `--tasks` are in flight upstream at once when the submits
take less than `--max-render` modelled seconds. `--preload` stores every task with the engine
off first and then starts it: the engine then faces a backlog of `--tasks` queued tasks at once.
`--budget` bounds the measured phase; a run cut short reports over the tasks that finished.

Exit status 1 when the run is incomplete (a submit refused, a task not completed, the budget
spent); a figure that misses its target is reported as MISS, not an error. Usage:

    .venv/bin/python bench/upstream_polling.py [--tasks 10000] [--time-scale 1] [--rps 1000]
        [--min-render 30] [--max-render 600] [--shapes matched|fixed] [--preload]
        [--submit-concurrency 8] [--budget SECONDS] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness import (
    Column,
    Connection,
    Gateway,
    Process,
    Processes,
    bounded,
    cpu_count,
    epoch,
    fan_out,
    list_tasks,
    parse_with_quick,
    percentile,
    process_cpu_seconds,
    process_memory_kib,
    request_bytes,
    run_async,
    table,
    verdict,
    wait_http,
)
from upstream_support import make_prompt, parse_prompt, provider_toml, start_fake

MODEL = "wan2.6-t2v"
FIXED_INTERVAL = 5.0
POLL_INTERVAL = 5.0
MAX_POLL_INTERVAL = 60.0
SWEEP_INTERVAL = 2.0
TARGET_CALLS_SHARE = 0.10
TARGET_LAG_SHARE = 0.10
TARGET_CPU_SHARE = 0.50
SATURATED_SHARE = 0.90
TARGET_RSS_MB = 300.0
SAMPLE_EVERY = 1.0
API_KINDS = ("submit", "query", "cancel", "list", "content")
QUICK = {"tasks": 40, "time_scale": 4.0, "min_render": 30.0, "max_render": 120.0, "budget": 60.0}


@dataclass(frozen=True)
class Planned:
    index: int
    render: float
    """Modelled (real-time) seconds from the upstream's accepting the task to its completion."""
    duration: int
    resolution: str


@dataclass
class Sample:
    at: float
    cpu: float
    rss_kib: int
    calls: int
    downloads: int


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks in flight (10000)")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="modelled seconds per wall second (1)"
    )
    parser.add_argument(
        "--rps", type=float, default=1000.0, help="provider requests_per_second, real time (1000)"
    )
    parser.add_argument("--min-render", type=float, default=30.0, help="shortest task, s (30)")
    parser.add_argument("--max-render", type=float, default=600.0, help="longest task, s (600)")
    parser.add_argument("--shapes", choices=["matched", "fixed"], default="matched")
    parser.add_argument(
        "--submit-concurrency", type=int, default=8, help="concurrent POST /v1/tasks (8)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="give up after this many seconds of the measured phase (default: from the plan)",
    )
    parser.add_argument(
        "--preload",
        action="store_true",
        help="submit every task with the engine off, then start it (a backlog of --tasks)",
    )
    parser.add_argument(
        "--sweep-interval",
        type=float,
        default=SWEEP_INTERVAL,
        help="the provider's sweep_interval, real time (2; 0: no sweeps, each task polled)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parse_with_quick(parser, QUICK, argv)
    if args.tasks < 1 or args.time_scale <= 0 or args.rps <= 0:
        parser.error("--tasks, --time-scale and --rps must be more than 0")
    if not 0 < args.min_render <= args.max_render:
        parser.error("need 0 < --min-render <= --max-render")
    return args


# --------------------------------------------------------------------------------------------
# the plan


def shape_for(render: float, shapes: str) -> tuple[int, str]:
    """The request's (duration, resolution) whose typical time covers `render` seconds."""
    if shapes == "fixed" or render < 180:
        return 5, "720P"  # 1-3 min
    if render < 360:
        return 10, "720P"  # 3-6 min
    return 10, "1080P"  # 5-10 min


def plan_tasks(count: int, low: float, high: float, shapes: str) -> list[Planned]:
    """Render times evenly spread over [low, high], longest first (the order of submits)."""
    plans = []
    for index in range(count):
        render = high - (high - low) * (index + 0.5) / count if count > 1 else high
        duration, resolution = shape_for(render, shapes)
        plans.append(Planned(index, round(render, 3), duration, resolution))
    return plans


# --------------------------------------------------------------------------------------------
# the processes


def write_config(processes: Processes, fake: Process, args: argparse.Namespace) -> Path:
    scale = args.time_scale
    config = processes.workdir / "providers.toml"
    toml = provider_toml(
        fake.url + "/api/v1",
        concurrency=args.tasks,
        requests_per_second=args.rps * scale,
        poll_interval=POLL_INTERVAL / scale,
        max_poll_interval=MAX_POLL_INTERVAL / scale,
        expected_time_scale=1.0 / scale,
        sweep_interval=args.sweep_interval / scale,
        timeout=30,
    )
    config.write_text(toml)
    return config


def start_gateway(
    processes: Processes, config: Path, key: str, *, engine: bool, name: str, wait: bool = True
) -> Gateway:
    """`vidgate serve` on the run's one data dir, in front of the fake."""
    return processes.gateway(
        name,
        data_dir=processes.workdir / "gateway",
        key=key,
        run_engine=engine,
        config=config,
        allow_loopback=True,
        wait=wait,
    )


# --------------------------------------------------------------------------------------------
# the run


async def submit_all(
    port: int, key: str, plans: list[Planned], concurrency: int
) -> tuple[dict[int, str], list[str]]:
    """`POST /v1/tasks` for every plan, in order, over `concurrency` connections."""
    ids: dict[int, str] = {}
    errors: list[str] = []
    auth = [("Authorization", f"Bearer {key}")]

    async def post(conn: Connection, plan: Planned) -> None:
        body = {
            "model": MODEL,
            "prompt": make_prompt(plan.index, plan.render),
            "duration": plan.duration,
            "resolution": plan.resolution,
        }
        request = request_bytes("POST", "/v1/tasks", port, auth, json.dumps(body).encode())
        try:
            reply = await conn.request(request, timeout=60)
        except (OSError, TimeoutError) as exc:
            errors.append(f"task {plan.index}: {exc!r}")
            return
        if reply.status != 202:
            text = reply.body.decode(errors="replace")
            errors.append(f"task {plan.index}: {reply.status} {text}")
            return
        ids[plan.index] = json.loads(reply.body)["task_id"]

    await fan_out(port, plans, post, concurrency=concurrency)
    return ids, errors


class Submits:
    """The clients' `POST /v1/tasks`, in the foreground or in a thread beside the sampling."""

    def __init__(self, key: str, plans: list[Planned], concurrency: int) -> None:
        self.key = key
        self.plans = plans
        self.concurrency = concurrency
        self.ids: dict[int, str] = {}
        self.errors: list[str] = []
        self.started_at = 0.0
        self.finished_at: float | None = None
        self.reported = False
        self._thread: threading.Thread | None = None

    def run(self, port: int) -> None:
        self.started_at = time.time()
        try:
            self.ids, self.errors = run_async(
                submit_all(port, self.key, self.plans, self.concurrency)
            )
        except Exception as exc:
            self.errors.append(repr(exc))
        finally:
            self.finished_at = time.time()

    def start(self, port: int) -> None:
        self._thread = threading.Thread(target=self.run, args=(port,), daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=120)

    def summary(self) -> str:
        took = (self.finished_at or time.time()) - self.started_at
        errors = "".join(f"\n    {error}" for error in self.errors[:5])
        return (
            f"POST /v1/tasks x {len(self.ids)} in {took:.1f} s "
            f"({len(self.ids) / max(1e-9, took):.0f}/s), {len(self.errors)} refused{errors}"
        )

    def ok(self, expected: int) -> bool:
        return self.finished_at is not None and not self.errors and len(self.ids) == expected


def sample(gateway: Gateway, fake: httpx.Client) -> tuple[Sample, dict[str, int]]:
    progress: dict[str, int] = fake.get("/_bench/progress").json()
    memory = process_memory_kib(gateway.pid)
    point = Sample(
        at=time.time(),
        cpu=process_cpu_seconds(gateway.pid),
        rss_kib=memory.get("VmRSS", 0),
        calls=progress["calls"],
        downloads=progress["downloads"],
    )
    return point, progress


def still_running(api: httpx.Client) -> int:
    """Tasks the gateway lists as queued or processing (0 or more; capped at 100)."""
    left = 0
    for status in ("queued", "processing"):
        page = api.get("/v1/tasks", params={"status": status, "limit": 100}).json()
        left += len(page["data"])
    return left


def moment(task: dict[str, Any] | None, name: str) -> float | None:
    """A task's time stamp `name` in epoch seconds, or None."""
    stamp = task.get(name) if task else None
    return epoch(stamp) if stamp else None


# --------------------------------------------------------------------------------------------
# figures


def bound_calls(renders: Sequence[float]) -> float:
    """Mean calls per task of a fixed 5 s poller: the 5 s intervals in each task, plus one."""
    return sum(math.ceil(d / FIXED_INTERVAL) + 1 for d in renders) / len(renders)


def max_in_window(stamps: Sequence[float], window: float) -> tuple[int, float]:
    """The most stamps in any half-open window of `window` seconds, and where it starts."""
    ordered = sorted(stamps)
    best, at = 0, ordered[0] if ordered else 0.0
    for i, start in enumerate(ordered):
        count = bisect.bisect_left(ordered, start + window, lo=i) - i
        if count > best:
            best, at = count, start
    return best, at


def peak_in_flight(spans: Sequence[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def cpu_peak(samples: Sequence[Sample], window: float = 5.0) -> float:
    """The gateway's highest CPU share (of one core) over any `window` seconds of samples."""
    best = 0.0
    for i, first in enumerate(samples):
        for last in samples[i + 1 :]:
            if last.at - first.at >= window:
                best = max(best, (last.cpu - first.cpu) / (last.at - first.at))
                break
    return best


# --------------------------------------------------------------------------------------------
# main


def run(args: argparse.Namespace) -> int:
    scale = args.time_scale
    plans = plan_tasks(args.tasks, args.min_render, args.max_render, args.shapes)
    longest = max(p.render for p in plans) / scale
    print(
        f"{args.tasks} tasks, renders {args.min_render:g}-{args.max_render:g} s spread evenly, "
        f"shapes {args.shapes}, time scale {scale:g} (a {args.max_render:g} s task takes "
        f"{longest:.1f} s of wall time); provider: requests_per_second {args.rps:g} x {scale:g}"
        f", poll_interval {POLL_INTERVAL:g}/{scale:g}, max_poll_interval "
        f"{MAX_POLL_INTERVAL:g}/{scale:g}, expected_time_scale 1/{scale:g}, sweep_interval "
        f"{args.sweep_interval:g}/{scale:g}; "
        f"{cpu_count()} cores; load average {os.getloadavg()[0]:.2f}"
    )
    samples: list[Sample] = []
    with Processes("vidgate-bench-upstream-") as processes:
        fake = start_fake(processes, scale)
        config = write_config(processes, fake, args)
        key = processes.create_key(processes.workdir / "gateway")
        submits = Submits(key, plans, args.submit_concurrency)
        if args.preload:
            # The clients' submits with the engine off, so that every task is queued before
            # the engine starts: it then claims them all at once and submits them upstream
            # as fast as it can (a backlog, as after an outage).
            intake = start_gateway(processes, config, key, engine=False, name="intake")
            submits.run(intake.port)
            print(f"engine off: {submits.summary()}")
            processes.stop(intake)
        # Measured: the gateway with its engine on. Its CPU is counted from its start
        # (imports and start-up included, about 2 s of CPU).
        spawned = time.time()
        gateway = start_gateway(processes, config, key, engine=True, name="gateway", wait=False)
        print(f"gateway pid {gateway.pid}, fake pid {fake.pid}", flush=True)
        wait_http(gateway, "/healthz", timeout=600)
        print(f"  answering after {time.time() - spawned:.1f} s", flush=True)
        if not args.preload:
            submits.start(gateway.port)
        result = drive(args, gateway, fake, samples, spawned, submits)
        if not result["complete"]:
            # A gateway that did not finish may not answer in time: read its tasks through
            # a fresh one with the engine off, on the same data dir.
            processes.stop(gateway)
            gateway = start_gateway(processes, config, key, engine=False, name="reader")
        submits.join()
        with gateway.client(timeout=120) as api:
            result["gateway_tasks"] = list_tasks(api)
        result["complete"] = result["complete"] and submits.ok(len(plans))
    report(args, plans, result, samples)
    return 0 if result["complete"] else 1


def drive(
    args: argparse.Namespace,
    gateway: Gateway,
    fake: Process,
    samples: list[Sample],
    spawned: float,
    submits: Submits,
) -> dict[str, Any]:
    scale = args.time_scale
    budget = args.budget or 3 * (args.max_render / scale) + args.tasks / 20 + 120
    with httpx.Client(base_url=fake.url, timeout=60) as fake_api, gateway.client() as api:
        first = Sample(at=spawned, cpu=0.0, rss_kib=0, calls=0, downloads=0)
        samples.append(first)
        started = spawned
        deadline = started + budget
        last_print = 0.0
        done_at: float | None = None
        while time.time() < deadline:
            for process in (gateway, fake):
                if not process.running():
                    raise RuntimeError(f"{process.name} exited during the run")
            point, progress = sample(gateway, fake_api)
            samples.append(point)
            if point.at - last_print >= 10:
                last_print = point.at
                print(
                    f"  t={point.at - started:6.1f} s  upstream tasks {progress['tasks']}, due "
                    f"{progress['due']}, seen completed {progress['seen_completed']}, "
                    f"downloaded {progress['downloads']}; gateway cpu "
                    f"{point.cpu - first.cpu:.1f} s, rss {point.rss_kib / 1024:.0f} MB",
                    flush=True,
                )
            if submits.finished_at is not None and not submits.reported:
                submits.reported = True
                print(f"  submits done: {submits.summary()}", flush=True)
            if (
                submits.finished_at is not None
                and progress["downloads"] >= len(submits.ids)
                and still_running(api) == 0
            ):
                done_at = point.at
                break
            time.sleep(SAMPLE_EVERY)
        last, _ = sample(gateway, fake_api)
        samples.append(last)
        memory = process_memory_kib(gateway.pid)
        dump = fake_api.get("/_bench/dump").json()
    if done_at is None:
        print(f"TIMEOUT: not every task finished within {budget:.0f} s")
    return {
        "complete": done_at is not None,
        "started": started,
        "done_at": done_at or last.at,
        "fake": dump,
        "hwm_kib": memory.get("VmHWM", 0),
        "cpu": last.cpu - first.cpu,
        "load_after": os.getloadavg()[0],
    }


def report(
    args: argparse.Namespace,
    plans: list[Planned],
    result: dict[str, Any],
    samples: list[Sample],
) -> None:
    scale = args.time_scale
    by_index = {p.index: p for p in plans}
    fake_by_index: dict[int, dict[str, Any]] = {}
    duplicates = 0
    for task in result["fake"]["tasks"]:
        parsed = parse_prompt(task["prompt"])
        if parsed is None:
            continue
        if parsed[0] in fake_by_index:
            duplicates += 1  # the same gateway task submitted upstream again
        else:
            fake_by_index[parsed[0]] = task
    gateway_by_index: dict[int, dict[str, Any]] = {}
    for task in result["gateway_tasks"]:
        parsed = parse_prompt(task.get("prompt"))
        if parsed is not None:
            gateway_by_index[parsed[0]] = task

    statuses: dict[str, int] = {}
    lags: list[float] = []
    poll_lags: list[float] = []
    real_lags: list[float] = []
    rehost_ms: list[float] = []
    per_task: list[dict[str, Any]] = []
    for index in by_index:
        upstream = fake_by_index.get(index)
        task = gateway_by_index.get(index)
        status = task["status"] if task else "missing"
        statuses[status] = statuses.get(status, 0) + 1
        finished = moment(task, "finished_at")
        if upstream is None or finished is None or status != "completed":
            continue
        length = upstream["render_seconds"]
        lags.append((finished - upstream["due_at"]) / length)
        seen = upstream["first_completed_at"]
        if seen is not None:
            poll_lags.append((seen - upstream["due_at"]) / length)
            rehost = finished - seen
            rehost_ms.append(rehost * 1000)
            real_lags.append((seen - upstream["due_at"] + rehost / scale) / length)
        per_task.append(
            {
                "render": by_index[index].render,
                "queries": upstream["queries"],
                "lag": lags[-1],
                "poll_lag": poll_lags[-1] if seen is not None else None,
                "submitted_at": upstream["submitted_at"],
                "created_at": moment(task, "created_at"),
                "started_at": moment(task, "started_at"),
            }
        )

    renders = [p.render for p in plans]
    fixed_calls = bound_calls(renders)
    counters: dict[str, int] = result["fake"]["counters"]
    queries = counters.get("query", 0) + counters.get("list", 0)
    calls_per_task = queries / len(plans)
    stamps: dict[str, list[float]] = result["fake"]["stamps"]
    api_stamps = [s for kind in API_KINDS for s in stamps.get(kind, [])]
    limit = args.rps * scale
    worst, worst_at = max_in_window(api_stamps, 1.0)
    spans = [(t["submitted_at"], t["due_at"]) for t in fake_by_index.values()]
    submit_times = [start for start, _ in spans]
    submit_span = (max(submit_times) - min(submit_times)) * scale if submit_times else 0.0
    wall = result["done_at"] - result["started"]
    cpu = result["cpu"]
    hwm_mb = result["hwm_kib"] / 1024
    p95 = percentile(lags, 0.95)
    p95_real = percentile(real_lags, 0.95)
    calls_ratio = calls_per_task / fixed_calls
    rate_ok = worst <= limit
    share = cpu / wall
    peak = cpu_peak(samples)
    saturated = peak >= SATURATED_SHARE

    ratio_target = f"<= {TARGET_LAG_SHARE:.0%}"
    rows = [
        [
            "upstream status calls per task",
            f"{calls_per_task:.2f}",
            f"{fixed_calls:.2f}",
            f"{calls_ratio:.1%}",
            f"<= {TARGET_CALLS_SHARE:.0%} of the bound",
            verdict(calls_ratio <= TARGET_CALLS_SHARE) if result["complete"] else "n/a",
        ],
        [
            "p95 detection lag / task length",
            f"{p95:.1%}",
            "",
            "",
            ratio_target,
            verdict(p95 <= TARGET_LAG_SHARE),
        ],
        [
            "  same, re-hosting at real speed",
            f"{p95_real:.1%}",
            "",
            "",
            ratio_target,
            verdict(p95_real <= TARGET_LAG_SHARE),
        ],
        ["p50 detection lag / task length", f"{percentile(lags, 0.5):.1%}"],
        ["max detection lag / task length", f"{max(lags, default=float('nan')):.1%}"],
        [
            "gateway RSS peak (VmHWM)",
            f"{hwm_mb:.0f} MB",
            "",
            "",
            f"<= {TARGET_RSS_MB:.0f} MB",
            verdict(hwm_mb <= TARGET_RSS_MB),
        ],
        ["gateway CPU, whole run", f"{cpu:.0f} s"],
        ["  per task", f"{cpu / len(plans) * 1000:.1f} ms"],
        [
            "  share of a core, wall time",
            f"{share:.0%} (peak 5 s: {peak:.0%})",
            "",
            "",
            f"<= {TARGET_CPU_SHARE:.0%}",
            verdict(share <= TARGET_CPU_SHARE),
        ],
        ["  per upstream status call", f"{cpu / max(1, queries) * 1000:.2f} ms"],
        ["  per modelled second", f"{cpu / (wall * scale):.1%}"],
        [
            "most API calls in any 1 s",
            f"{worst}",
            f"limit {limit:g}",
            f"{worst / limit:.0%}",
            "never above limit",
            verdict(rate_ok),
        ],
    ]
    titles = ("figure", "value", "bound: a 5 s poller", "ratio", "target", "")
    lines = table(
        [Column(t) for t in titles], [row + [""] * (6 - len(row)) for row in rows], "markdown"
    )
    print()
    print("\n".join(lines))
    print()
    if saturated:
        print(
            f"SATURATED: the gateway's CPU peaked at {peak:.0%} of a core over 5 s; its lag "
            "measures its CPU, not its schedule (lower --time-scale, or a quieter machine)"
        )
    if not result["complete"]:
        print("INCOMPLETE RUN: lag figures cover the tasks that finished; calls per task is n/a")
    in_flight = peak_in_flight(spans)
    print(
        f"gateway tasks: {statuses}; upstream submits spread over {submit_span:.0f} modelled s;"
        f" peak {in_flight} in flight upstream at once; {duplicates} duplicate upstream submits"
        " (a task submitted again after its claim's lease ran out)"
    )
    print(
        f"calls received by the fake: {counters.get('submit', 0)} submits, "
        f"{counters.get('query', 0)} task queries, {counters.get('list', 0)} listing pages, "
        f"{counters.get('result', 0)} result downloads (not rate-limited: OSS-style URLs); "
        f"busiest second starts {worst_at - result['started']:.1f} s into the run"
    )
    print(
        f"lag split: p95 poll lag {percentile(poll_lags, 0.95):.1%} of the task, re-hosting "
        f"p50 {percentile(rehost_ms, 0.5):.0f} ms / p95 {percentile(rehost_ms, 0.95):.0f} ms "
        f"wall (x{scale:g} modelled)"
    )
    print(f"wall time {wall:.0f} s (engine on); load average after: {result['load_after']:.2f}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "statuses": statuses,
                    "calls_per_task": calls_per_task,
                    "fixed_calls_per_task": fixed_calls,
                    "lag_p50": percentile(lags, 0.5),
                    "lag_p95": p95,
                    "lag_p95_rehost_real": p95_real,
                    "cpu_share": share,
                    "cpu_ms_per_call": cpu / max(1, queries) * 1000,
                    "rss_peak_mb": hwm_mb,
                    "cpu_seconds": cpu,
                    "wall_seconds": wall,
                    "max_calls_1s": worst,
                    "rate_limit": limit,
                    "peak_in_flight": in_flight,
                    "duplicate_submits": duplicates,
                    "table": lines,
                    "tasks": per_task,
                },
                indent=2,
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    with bounded():
        return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
