"""Cross-node wake-ups (issue 11): how soon a waiter on gateway B hears of a task that gateway A
finished, both on one PostgreSQL, by LISTEN/NOTIFY against the 0.25 s table tail.

One throwaway PostgreSQL cluster (the server binaries the tests use: `initdb`, `postgres`;
`VIDGATE_PG_BIN` names their directory). For each mode, in the same run and on a fresh database:

- `listen`: `VIDGATE_EVENT_LISTEN=true` (the default): B hears A's events by NOTIFY;
- `tail`: `VIDGATE_EVENT_LISTEN=false`: B reads the events table every 0.25 s
  (`VIDGATE_EVENT_TAIL_INTERVAL`), as every node did before.

Two `vidgate serve` processes, A and B, engine off, share the database. `--waiters` tasks are
submitted to B; a load process (bench/push_support.py) holds an SSE stream or a long-poll on B
for each, half and half. Then A cancels them, `--rate` a second over 4 connections, so that each
wake-up is measured on its own rather than behind a burst. Lag = when the waiter on B got the
terminal status - the task's `finished_at` (stamped by A in the cancelling transaction).
Target: p95 < 50 ms with LISTEN. The ratio is listen / tail.

Exit status 1 when a measurement is incomplete (a waiter never told, an HTTP error); a figure
that misses its target is reported as MISS, not as an error. Usage:

    .venv/bin/python bench/cross_node_wakeups.py [--waiters 200] [--rate 20]
        [--only listen,tail] [--max-seconds 300] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    HOST,
    ROOT,
    VIDGATE_CLI,
    Column,
    Gateway,
    Processes,
    bounded,
    clean_env,
    epoch,
    free_port,
    load_note,
    parse_with_quick,
    percentile,
    table,
    verdict,
    wait_http,
)
from push import cancel_tasks, interleave, submit_tasks

sys.path.insert(0, str(ROOT / "tests"))
from postgres import PostgresCluster, find_bin_dir, start_cluster

SUPPORT = Path(__file__).resolve().parent / "push_support.py"
TASK_BODY: dict[str, Any] = {"prompt": "a lighthouse at dusk", "duration": 2, "resolution": "480P"}
SECRET = "cross-node-wakeups-bench-shared-secret"
P95_TARGET_MS = 50.0
TAIL_INTERVAL = 0.25
MODES = ("listen", "tail")
QUICK = {"waiters": 40}


@dataclass
class Measured:
    """One mode's lags (seconds), and what went wrong."""

    mode: str
    lags: list[float] = field(default_factory=list)
    after_answer: list[float] = field(default_factory=list)
    """From the cancel's answer reaching the load process to the waiter on B being told."""
    errors: list[str] = field(default_factory=list)

    def ms(self, q: float, values: list[float] | None = None) -> float:
        chosen = self.lags if values is None else values
        return percentile(sorted(chosen), q) * 1000 if chosen else float("nan")


def node_env(data_dir: Path, url: str, port: int, listen: bool) -> dict[str, str]:
    return clean_env(
        {
            "VIDGATE_DATA_DIR": str(data_dir),
            "VIDGATE_DATABASE_URL": url,
            "VIDGATE_SECRET_KEY": SECRET,
            "VIDGATE_HOST": HOST,
            "VIDGATE_PORT": str(port),
            "VIDGATE_RUN_ENGINE": "false",
            "VIDGATE_EVENT_LISTEN": "true" if listen else "false",
            "VIDGATE_EVENT_TAIL_INTERVAL": str(TAIL_INTERVAL),
        }
    )


def start_node(processes: Processes, name: str, url: str, key: str, listen: bool) -> Gateway:
    data_dir = processes.workdir / "shared"
    port = free_port()
    argv = [*VIDGATE_CLI, "serve", "--no-access-log", "--log-level", "warning"]
    process = processes.start(name, argv, node_env(data_dir, url, port, listen), port)
    gateway = Gateway(process.name, process.popen, process.log, port, key, data_dir)
    processes.started[processes.started.index(process)] = gateway
    wait_http(gateway, "/healthz")
    return gateway


def create_key(processes: Processes, url: str) -> str:
    env = node_env(processes.workdir / "shared", url, 0, True)
    done = subprocess.run(
        [*VIDGATE_CLI, "keys", "create", "--name", "bench"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"keys create failed:\n{done.stderr}")
    return done.stdout.strip()


def measure(args: argparse.Namespace, cluster: PostgresCluster, mode: str) -> Measured:
    result = Measured(mode)
    url = cluster.create_database()
    listen = mode == "listen"
    with Processes(f"vidgate-wakeups-{mode}-") as processes:
        key = create_key(processes, url)
        front = start_node(processes, "gateway-b", url, key, listen)
        finisher = start_node(processes, "gateway-a", url, key, listen)
        ids, _ = submit_tasks(front, args.waiters, TASK_BODY, 8)
        kinds = interleave({"sse": args.waiters // 2, "poll": args.waiters - args.waiters // 2})
        work = processes.workdir
        (work / "tasks.json").write_text(json.dumps(list(zip(kinds, ids, strict=True))))
        ready, out = work / "ready.json", work / "out.json"
        load = processes.helper(
            "waiters",
            SUPPORT,
            "waiters",
            *("--port", str(front.port), "--key", key, "--tasks", str(work / "tasks.json")),
            *("--ready", str(ready), "--out", str(out)),
        )
        deadline = time.monotonic() + 60
        while not ready.exists():
            if not load.running() or time.monotonic() > deadline:
                raise RuntimeError(f"the waiters did not open:\n{load.log_tail()}")
            time.sleep(0.05)
        time.sleep(1.0)  # the last long-polls reach their wait
        print(f"[{mode}] {args.waiters} waiters open on B; A cancels {args.rate:g}/s...")
        replies, _ = cancel_tasks(finisher, ids, 4, rate=args.rate)
        result.errors += [f"cancel: HTTP {r.status}" for r in replies if r.status != 200][:5]
        answered = {t: r.received_at for t, r in zip(ids, replies, strict=True)}
        if not load.wait(30):
            result.errors.append("some waiters were never told")
            processes.stop(load, timeout=30)
        records = json.loads(out.read_text())["records"] if out.exists() else []
        for record in records:
            if record["error"] or not record["seen_at"] or not record["finished_at"]:
                result.errors.append(f"a waiter was not told: {record['error'] or 'no answer'}")
                continue
            result.lags.append(record["seen_at"] - epoch(record["finished_at"]))
            result.after_answer.append(record["seen_at"] - answered[record["task_id"]])
        result.errors += front.logged_errors() + finisher.logged_errors()
    return result


def report(results: list[Measured]) -> list[str]:
    rows = []
    for found in results:
        target = f"< {P95_TARGET_MS:g} ms" if found.mode == "listen" else "baseline"
        passed = verdict(found.ms(0.95) < P95_TARGET_MS) if found.mode == "listen" else ""
        rows.append(
            [
                "LISTEN/NOTIFY" if found.mode == "listen" else f"{TAIL_INTERVAL:g} s table tail",
                str(len(found.lags)),
                *(f"{found.ms(q):.1f}" for q in (0.5, 0.95, 0.99)),
                f"{max(found.lags) * 1000:.1f}" if found.lags else "-",
                target,
                passed,
            ]
        )
    columns = [
        Column("wake-up on B, from A", 22, "<"),
        Column("n", 5),
        Column("p50 ms", 8),
        Column("p95 ms", 8),
        Column("p99 ms", 8),
        Column("max ms", 8),
        Column("target", 10),
        Column("", 4),
    ]
    lines = table(columns, rows, style="ruled")
    for found in results:
        lines.append(
            f"{found.mode}: from A's cancel answer to B's waiter told: "
            f"p50 {found.ms(0.5, found.after_answer):.1f} / "
            f"p95 {found.ms(0.95, found.after_answer):.1f} ms"
        )
    by_mode = {found.mode: found for found in results}
    if "listen" in by_mode and "tail" in by_mode:
        listen, tail = by_mode["listen"], by_mode["tail"]
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            lines.append(
                f"{name} listen / tail = {listen.ms(q):.1f} / {tail.ms(q):.1f} = "
                f"{listen.ms(q) / tail.ms(q):.3f}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiters", type=int, default=200, help="tasks, one waiter each")
    parser.add_argument("--rate", type=float, default=20.0, help="cancels a second on A")
    parser.add_argument("--only", default=",".join(MODES), help="modes: listen,tail")
    parser.add_argument("--max-seconds", type=int, default=300)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parse_with_quick(parser, QUICK, argv)
    modes = [m for m in args.only.split(",") if m in MODES]
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("PostgreSQL server binaries not found; set VIDGATE_PG_BIN", file=sys.stderr)
        return 1
    print(load_note())
    with bounded(args.max_seconds):
        cluster = start_cluster(bin_dir)
        try:
            results = [measure(args, cluster, mode) for mode in modes]
        finally:
            cluster.stop()
    print("\n".join(report(results)))
    print(load_note(after=True))
    errors = [f"{r.mode}: {e}" for r in results for e in r.errors]
    for error in errors[:20]:
        print(f"ERROR {error}", file=sys.stderr)
    if args.json:
        figures = {
            r.mode: {"n": len(r.lags), **{f"p{q * 100:g}_ms": r.ms(q) for q in (0.5, 0.95, 0.99)}}
            for r in results
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 1 if errors or not all(r.lags for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
