"""Task reads: every dialect's GET-by-id on a real gateway against a bare uvicorn app.

What it measures: requests per second (and p50/p99 latency) of GET-by-id served by `vidgate
serve` in its own process, driven by a separate load-generator process over N concurrent
HTTP/1.1 keep-alive connections on 127.0.0.1 for a fixed window after a warm-up. Scenarios:

- queued, SQLite, every dialect: a gateway with `VIDGATE_RUN_ENGINE=false` holds one submitted
  task in `queued`, read by the native (`/v1/tasks/{id}`), OpenAI (`/v1/videos/{id}`),
  DashScope (`/api/v1/tasks/{id}`), kik (`/video/v1/tasks/{id}`) and nebula
  (`/v1/video/generations/{id}`) routes;
- completed, SQLite, every dialect: a gateway with its engine on (idle) renders one 2 s 480P
  t2v task, then holds `--completed` distinct completed tasks (copies of its row under new ids),
  read round-robin, so that each read looks its own task up in the store;
- queued, PostgreSQL, native: as the first, on a throwaway PostgreSQL 15 cluster;
- access log: the native queued read on a gateway started as `vidgate serve` is by default
  (`--log-level info`, access log on), against the queued gateway above (access log off).

Each is compared with a baseline measured in the same run, in alternating rounds: a bare
Starlette app on uvicorn (same loop and HTTP implementation, one worker, no access log)
answering a constant JSON body made of the very bytes the gateway returned for that read.

Targets (`ratio = gateway / bare`): queued on SQLite >= 0.5, completed >= 0.6, queued on
PostgreSQL >= 0.3; the access log may cost at most 10 % (`on / off >= 0.9`). Usage:

    .venv/bin/python bench/task_reads.py [--duration 2] [--rounds 2] [--warmup 0.5]
        [--concurrency 32] [--completed 200] [--groups queued,completed,postgresql,access-log]
        [--quick]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness import (
    ROOT,
    Gateway,
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

sys.path.insert(0, str(ROOT / "tests"))
from postgres import PostgresCluster, find_bin_dir, start_cluster

TARGETS = {"queued": 0.5, "completed": 0.6, "postgresql": 0.3, "access-log": 0.9}
GROUPS = tuple(TARGETS)
TASK_BODY = {"prompt": "A cat running across a meadow", "duration": 2, "resolution": "480P"}
QUICK = {"duration": 1.0, "rounds": 1, "warmup": 0.3, "completed": 20}
DIALECTS = {
    "native": "/v1/tasks/{id}",
    "openai": "/v1/videos/{id}",
    "dashscope": "/api/v1/tasks/{id}",
    "kik": "/video/v1/tasks/{id}",
    "nebula": "/v1/video/generations/{id}",
}
REQUEST_ID: Header = ("X-Request-Id", "bench-read")
"""Sent with every read, so that DashScope's body, which carries it, is the same each time."""


@dataclass
class Scenario:
    """One gateway read and its baseline, with the rounds measured of each."""

    group: str
    label: str
    gateway: Process
    paths: list[str]
    headers: list[Header]
    body: bytes
    bare: Process | None = None
    bare_paths: list[str] = field(default_factory=lambda: ["/"])
    bare_headers: list[Header] = field(default_factory=list)
    runs: list[LoadResult] = field(default_factory=list)
    bare_runs: list[LoadResult] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=float, default=2.0, help="measured seconds per scenario, all rounds"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds the duration is split into"
    )
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per round")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--completed", type=int, default=200, help="distinct completed tasks read in turn"
    )
    parser.add_argument("--groups", default=",".join(GROUPS), help=",".join(GROUPS))
    parser.add_argument(
        "--render-timeout", type=float, default=90.0, help="seconds to wait for the render"
    )
    args = parse_with_quick(parser, QUICK)
    args.groups = [g for g in args.groups.split(",") if g]
    if set(args.groups) - set(GROUPS):
        parser.error(f"--groups takes {', '.join(GROUPS)}")
    if args.rounds < 1 or args.duration <= 0 or args.concurrency < 1 or args.completed < 1:
        parser.error("--rounds, --concurrency and --completed must be at least 1")
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


def copy_task(data_dir: Path, task_id: str, count: int) -> list[str]:
    """`count` copies of the task's row under new ids (the original among them)."""
    ids = [task_id] + [f"{task_id[:-6]}{i:06d}" for i in range(1, count)]
    with sqlite3.connect(data_dir / "vidgate.db", timeout=30) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(tasks)")]
        chosen = ", ".join("?" if c == "id" else f'"{c}"' for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        statement = f"INSERT INTO tasks ({names}) SELECT {chosen} FROM tasks WHERE id = ?"
        db.executemany(statement, [(new, task_id) for new in ids[1:]])
    return ids


def read_body(gateway: Gateway, path: str) -> bytes:
    with gateway.client(timeout=30) as client:
        response = client.get(path, headers=dict([REQUEST_ID]))
    response.raise_for_status()
    return response.content


def dialect_scenarios(
    group: str, gateway: Gateway, ids: list[str], only: tuple[str, ...]
) -> list[Scenario]:
    found = []
    for dialect in only:
        paths = [DIALECTS[dialect].format(id=task_id) for task_id in ids]
        body = read_body(gateway, paths[0])
        label = f"{group}, {dialect}"
        found.append(Scenario(group, label, gateway, paths, [gateway.auth, REQUEST_ID], body))
    return found


def prepare(processes: Processes, args: argparse.Namespace, postgres: str | None) -> list[Scenario]:
    scenarios: list[Scenario] = []
    queued_gateway: Gateway | None = None
    if "queued" in args.groups or "access-log" in args.groups:
        queued_gateway = processes.gateway("gateway-queued", run_engine=False)
        with queued_gateway.client() as client:
            queued_id = submit(client)
        if "queued" in args.groups:
            scenarios += dialect_scenarios("queued", queued_gateway, [queued_id], tuple(DIALECTS))
    if "completed" in args.groups:
        done = processes.gateway("gateway-completed", run_engine=True)
        with done.client(timeout=30) as client:
            task_id = submit(client)
            wait_completed(client, task_id, args.render_timeout)
        ids = copy_task(done.data_dir, task_id, args.completed)
        scenarios += dialect_scenarios("completed", done, ids, tuple(DIALECTS))
    if postgres is not None:
        pg = processes.gateway("gateway-postgresql", run_engine=False, database_url=postgres)
        with pg.client() as client:
            pg_id = submit(client)
        scenarios += dialect_scenarios("postgresql", pg, [pg_id], ("native",))
    if "access-log" in args.groups and queued_gateway is not None:
        logged = processes.gateway("gateway-access-log", run_engine=False, access_log=True)
        with logged.client() as client:
            logged_id = submit(client)
        path = DIALECTS["native"].format(id=logged_id)
        on = Scenario(
            "access-log",
            "access log on, native",
            logged,
            [path],
            [logged.auth, REQUEST_ID],
            read_body(logged, path),
        )
        # The baseline: the same read on the queued gateway, whose access log is off.
        on.bare = queued_gateway
        on.bare_paths = [DIALECTS["native"].format(id=queued_id)]
        on.bare_headers = [queued_gateway.auth, REQUEST_ID]
        scenarios.append(on)
    for i, scenario in enumerate(scenarios):
        if scenario.bare is None:
            scenario.bare = processes.bare(f"bare-{i}", scenario.body)
    return scenarios


def measure(
    processes: Processes,
    target: Process,
    paths: list[str],
    headers: list[Header],
    args: argparse.Namespace,
    seconds: float,
) -> LoadResult:
    return processes.run_load(
        target,
        method="GET",
        path=paths[0],
        paths=paths if len(paths) > 1 else (),
        headers=headers,
        concurrency=args.concurrency,
        duration=seconds,
        warmup=args.warmup,
    )


def run(args: argparse.Namespace, postgres: str | None) -> int:
    with bounded(), Processes("vidgate-bench-reads-") as processes:
        scenarios = prepare(processes, args, postgres)
        seconds = args.duration / args.rounds
        # Rounds alternate baseline and gateway, so that load from elsewhere on a shared
        # machine falls on both alike; idle servers wait meanwhile.
        for _ in range(args.rounds):
            for s in scenarios:
                assert s.bare is not None
                base = measure(processes, s.bare, s.bare_paths, s.bare_headers, args, seconds)
                s.bare_runs.append(base)
                s.runs.append(measure(processes, s.gateway, s.paths, s.headers, args, seconds))
    return report(scenarios)


def report(scenarios: list[Scenario]) -> int:
    print()
    rows: list[tuple[str, LoadResult]] = []
    for s in scenarios:
        baseline = "access log off" if s.group == "access-log" else f"bare ({len(s.body)} B)"
        rows.append((f"{s.label}: {baseline}", combine(s.bare_runs)))
        rows.append((f"{s.label}: gateway", combine(s.runs)))
    print("\n".join(load_table("req/s", rows)))
    print()
    bare_rows = [combine(s.bare_runs) for s in scenarios if s.group != "access-log"]
    if bare_rows:
        print(bottleneck_note(bare_rows[0]))
    failures = 0
    for label, result in rows:
        bad = result.unexpected(200)
        if bad or result.lost_connections:
            failures += 1
            print(
                f"ERROR {label}: {bad} non-200 responses {result.statuses_total}, "
                f"{result.lost_connections} connections lost"
            )
    for s in scenarios:
        gateway, bare = combine(s.runs), combine(s.bare_runs)
        expression = "on / off" if s.group == "access-log" else "gateway / bare"
        target = TARGETS[s.group]
        print(ratio_line(f"ratio {s.label:<22}", expression, gateway.rps, bare.rps, target))
    print(load_note(after=True))
    return 1 if failures else 0


def main() -> int:
    args = parse_args()
    print(
        f"GET-by-id: {args.concurrency} keep-alive connections, "
        f"{args.duration:g} s measured per scenario in {args.rounds} alternating rounds "
        f"(each after {args.warmup:g} s warm-up), {cpu_count()} cores, 127.0.0.1"
    )
    print(f"servers: {server_stack()}; each in its own process")
    print(
        f"completed: {args.completed} distinct tasks read in turn, engine on (idle); "
        f"queued: engine off; {load_note()}"
    )
    if "postgresql" not in args.groups:
        return run(args, None)
    cluster: PostgresCluster = start_cluster(find_bin_dir())
    try:
        return run(args, cluster.create_database())
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
