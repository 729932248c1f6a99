"""Submits: durable `POST /v1/tasks` per second on a real gateway, with an accounting check.

What it measures: 202 answers per second (and p50/p99 latency) of `POST /v1/tasks` (a 2 s 480P
t2v request, no idempotency key) on `vidgate serve --no-access-log` in its own process with an
SQLite store in a temporary data dir, driven by a separate load-generator process over N
concurrent HTTP/1.1 keep-alive connections on 127.0.0.1 for a fixed window after a warm-up.
The gateway runs with `VIDGATE_RUN_ENGINE=false`, so no rendering competes for the CPU: what is
measured is validation, quota reservation and the durable insert (one SQLite write transaction
per submit, committed before the 202).

Afterwards the gateway is killed with SIGKILL and started again on the same data dir, and the
tasks listed by `GET /v1/tasks` (every page) and the key's reserved seconds in `GET /v1/account`
must both match the number of 202 answers received: every acknowledged submit was durable and
reserved its quota exactly once.

Target: `ratio = submits_per_s / 300 >= 1` (300 durable submits per second). Usage:

    .venv/bin/python bench/submits.py [--duration 5] [--warmup 1] [--concurrency 16] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from harness import (
    Processes,
    bounded,
    cpu_count,
    list_tasks,
    load_note,
    load_table,
    parse_with_quick,
    ratio_line,
    server_stack,
)

TARGET_PER_S = 300.0
DURATION = 2
TASK_BODY = {"prompt": "A cat running across a meadow", "duration": DURATION, "resolution": "480P"}
QUICK = {"duration": 1.0, "warmup": 0.5}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="concurrent keep-alive connections"
    )
    args = parse_with_quick(parser, QUICK)
    if args.duration <= 0 or args.concurrency < 1:
        parser.error("--concurrency must be at least 1, --duration above 0")
    return args


def main() -> int:
    args = parse_args()
    body = json.dumps(TASK_BODY).encode()
    seconds_each = float(DURATION)
    print(
        f"POST /v1/tasks: {args.concurrency} keep-alive connections, {args.warmup:g} s warm-up + "
        f"{args.duration:g} s measured, {cpu_count()} cores, 127.0.0.1"
    )
    print(f"server: {server_stack()}; {load_note()}")
    print("engine: OFF (VIDGATE_RUN_ENGINE=false), so no rendering competes for the CPU")
    print(f"request: {body.decode()}")
    with bounded(), Processes("vidgate-bench-submits-") as processes:
        gateway = processes.gateway("gateway-submits", run_engine=False)
        result = processes.run_load(
            gateway,
            method="POST",
            path="/v1/tasks",
            headers=[gateway.auth],
            body=body,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
        )
        # Durability: kill the gateway without a clean shutdown, start it again, then count.
        processes.stop(gateway, hard=True)
        gateway = processes.gateway(
            "gateway-restarted", data_dir=gateway.data_dir, key=gateway.key, run_engine=False
        )
        with gateway.client() as client:
            listed = len(list_tasks(client))
            account = client.get("/v1/account")
            account.raise_for_status()
            reserved = float(account.json()["reserved"])
        processes.stop(gateway)

    accepted = result.count(202, total=True)
    per_s = result.count(202) / result.seconds
    others = {code: n for code, n in result.statuses_total.items() if code != "202"}
    print()
    print("\n".join(load_table("202/s", [("gateway, POST /v1/tasks", result)])))
    print()
    print(
        f"202 answers: {accepted} in the whole run ({result.count(202)} in the measured "
        f"window); other answers: {others or 'none'}; connections lost: {result.lost_connections}"
    )
    listed_ok = listed == accepted
    reserved_ok = math.isclose(reserved, accepted * seconds_each, abs_tol=1e-6)
    print(
        "durability check after SIGKILL + restart: "
        f"GET /v1/tasks lists {listed} tasks, 202s = {accepted}: "
        f"{'OK' if listed_ok else 'MISMATCH'}; "
        f"reserved {reserved:g} s = {accepted} x {seconds_each:g} s: "
        f"{'OK' if reserved_ok else 'MISMATCH'}"
    )
    expression = f"submits_per_s / {TARGET_PER_S:.0f}"
    print(ratio_line("ratio", expression, per_s, TARGET_PER_S, 1.0))
    print(load_note(after=True))
    failed = bool(others) or result.lost_connections > 0 or not (listed_ok and reserved_ok)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
