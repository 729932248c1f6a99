"""Submits: durable `POST /v1/tasks` per second, against a bare app that parses the same JSON.

What it measures: 202 answers per second (and p50/p99 latency) of `POST /v1/tasks` (a 2 s 480P
t2v request, no idempotency key, one API key) on `vidgate serve --no-access-log` in its own
process, driven by a separate load-generator process over N concurrent HTTP/1.1 keep-alive
connections on 127.0.0.1 for a fixed window after a warm-up, once on SQLite (a file in a
temporary data dir) and once on PostgreSQL (a throwaway cluster from the server binaries the
tests use, with `fsync` and `synchronous_commit` off). The gateway runs with
`VIDGATE_RUN_ENGINE=false`, so no rendering competes for the CPU: what is measured is
validation, quota reservation and the durable insert, committed before the 202.

The baseline, started by this script: a bare Starlette app on the same uvicorn stack that
reads the body, parses it as JSON, and answers 202 with a small JSON body. The two are driven
in alternating rounds (bare, gateway, bare, gateway, ...) so that a change in the machine's load
hits both; `ratio = gateway 202/s / bare 202/s` over all rounds.

Afterwards the gateway is killed with SIGKILL and started again on the same store, and the
tasks listed by `GET /v1/tasks` (every page) and the key's reserved seconds in `GET /v1/account`
must both match the number of 202 answers received: every acknowledged submit was durable and
reserved its quota exactly once.

Targets: SQLite ratio >= 0.08, PostgreSQL ratio >= 0.05. A ratio that misses its target is
reported as MISS; the exit status is 1 when a check fails (an answer other than 202, a lost
connection, a task or a reserved second that did not survive the restart). Usage:

    .venv/bin/python bench/submits.py [--duration 3] [--warmup 1] [--rounds 2]
        [--concurrency 16] [--stores sqlite,postgresql] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import (
    HOST,
    ROOT,
    VIDGATE_CLI,
    Gateway,
    LoadResult,
    Process,
    Processes,
    bounded,
    combine,
    cpu_count,
    free_port,
    list_tasks,
    load_note,
    load_table,
    parse_with_quick,
    ratio_line,
    server_stack,
    vidgate_env,
    wait_http,
)

sys.path.insert(0, str(ROOT / "tests"))
from postgres import PostgresCluster, find_bin_dir, start_cluster

SCRIPT = Path(__file__).resolve()
TARGETS = {"sqlite": 0.08, "postgresql": 0.05}
DURATION = 2
TASK_BODY = {"prompt": "A cat running across a meadow", "duration": DURATION, "resolution": "480P"}
BARE_ANSWER = b'{"task_id":"task_00000000000000000000000000","status":"queued"}'
QUICK = {"duration": 1.0, "warmup": 0.5, "rounds": 1}


@dataclass
class Measured:
    """One store's rounds, both sides, and the durability check after them."""

    store: str
    bare: LoadResult
    gateway: LoadResult
    listed: int
    reserved: float

    @property
    def accepted(self) -> int:
        return self.gateway.count(202, total=True)

    @property
    def ratio(self) -> float:
        bare = self.bare.count(202) / self.bare.seconds
        return self.gateway.count(202) / self.gateway.seconds / bare if bare else 0.0

    def checks_ok(self) -> bool:
        listed_ok = self.listed == self.accepted
        reserved_ok = math.isclose(self.reserved, self.accepted * DURATION, abs_tol=1e-6)
        clean = not self.gateway.unexpected(202) and not self.gateway.lost_connections
        return listed_ok and reserved_ok and clean


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds a round")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds a round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each side")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--stores", default="sqlite,postgresql", help="sqlite,postgresql")
    args = parse_with_quick(parser, QUICK)
    args.stores = [s for s in args.stores.split(",") if s]
    if args.duration <= 0 or args.concurrency < 1 or args.rounds < 1:
        parser.error("--concurrency and --rounds must be at least 1, --duration above 0")
    if set(args.stores) - set(TARGETS):
        parser.error("--stores takes sqlite and postgresql")
    return args


# --------------------------------------------------------------------------------------------
# the processes


def serve_bare_submit(port: int) -> None:
    """The baseline: parse the JSON body, answer 202, on uvicorn as `vidgate serve` runs it."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def submit(request: Request) -> Response:
        body = json.loads(await request.body())
        if not isinstance(body, dict):
            return Response(b'{"error":"not an object"}', 400, media_type="application/json")
        return Response(BARE_ANSWER, 202, media_type="application/json")

    async def health(_request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    routes = [Route("/v1/tasks", submit, methods=["POST"]), Route("/", health)]
    uvicorn.run(Starlette(routes=routes), host=HOST, port=port, log_level="warning")


def start_bare(processes: Processes) -> Process:
    port = free_port()
    bare = processes.helper("bare-submit", SCRIPT, "bare", "--port", str(port), port=port)
    wait_http(bare, "/")
    return bare


def gateway_env(data_dir: Path, port: int, url: str | None) -> dict[str, str]:
    env = vidgate_env(data_dir, port=port, run_engine=False)
    if url is not None:
        env["VIDGATE_DATABASE_URL"] = url
    return env


def create_key(data_dir: Path, url: str | None) -> str:
    done = subprocess.run(
        [*VIDGATE_CLI, "keys", "create", "--name", "bench"],
        cwd=ROOT,
        env=gateway_env(data_dir, 0, url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"keys create failed:\n{done.stderr}")
    return done.stdout.strip()


def start_gateway(
    processes: Processes, name: str, data_dir: Path, key: str, url: str | None
) -> Gateway:
    port = free_port()
    argv = [*VIDGATE_CLI, "serve", "--no-access-log", "--log-level", "warning"]
    process = processes.start(name, argv, gateway_env(data_dir, port, url), port)
    gateway = Gateway(process.name, process.popen, process.log, port, key, data_dir)
    processes.started[processes.started.index(process)] = gateway
    wait_http(gateway, "/healthz")
    return gateway


# --------------------------------------------------------------------------------------------
# the run


def measure(args: argparse.Namespace, store: str, url: str | None) -> Measured:
    body = json.dumps(TASK_BODY).encode()
    with Processes(f"vidgate-bench-submits-{store}-") as processes:
        data_dir = processes.workdir / "gateway"
        key = create_key(data_dir, url)
        bare = start_bare(processes)
        gateway = start_gateway(processes, f"gateway-{store}", data_dir, key, url)
        runs: dict[str, list[LoadResult]] = {"bare": [], "gateway": []}
        for _ in range(args.rounds):
            for side, target, headers in (
                ("bare", bare, []),
                ("gateway", gateway, [gateway.auth]),
            ):
                runs[side].append(
                    processes.run_load(
                        target,
                        method="POST",
                        path="/v1/tasks",
                        headers=headers,
                        body=body,
                        concurrency=args.concurrency,
                        duration=args.duration,
                        warmup=args.warmup,
                    )
                )
        # Durability: kill the gateway without a clean shutdown, start it again, then count.
        processes.stop(gateway, hard=True)
        gateway = start_gateway(processes, f"restarted-{store}", data_dir, key, url)
        with gateway.client() as client:
            listed = len(list_tasks(client))
            account = client.get("/v1/account")
            account.raise_for_status()
            reserved = float(account.json()["reserved"])
    return Measured(store, combine(runs["bare"]), combine(runs["gateway"]), listed, reserved)


def report(results: list[Measured]) -> list[str]:
    rows = []
    for r in results:
        rows += [(f"{r.store}: bare JSON 202", r.bare), (f"{r.store}: gateway", r.gateway)]
    lines = ["", *load_table("202/s", rows), ""]
    for r in results:
        others = {code: n for code, n in r.gateway.statuses_total.items() if code != "202"}
        lines.append(
            f"{r.store}: durability check after SIGKILL + restart: {r.listed} tasks listed, "
            f"{r.reserved:g} s reserved, for {r.accepted} 202s of {DURATION} s: "
            f"{'OK' if r.checks_ok() else 'MISMATCH'}; other answers: {others or 'none'}; "
            f"connections lost: {r.gateway.lost_connections}"
        )
    for r in results:
        gateway = r.gateway.count(202) / r.gateway.seconds
        bare = r.bare.count(202) / r.bare.seconds
        expression = "gateway 202/s / bare JSON 202/s"
        lines.append(ratio_line(f"{r.store} ratio", expression, gateway, bare, TARGETS[r.store]))
    return lines


def main() -> int:
    args = parse_args()
    print(
        f"POST /v1/tasks, one key: {args.concurrency} keep-alive connections, {args.rounds} "
        f"alternating rounds of {args.warmup:g} s warm-up + {args.duration:g} s measured a "
        f"side, {cpu_count()} cores, 127.0.0.1"
    )
    print(f"server: {server_stack()}; {load_note()}")
    print("engine: OFF (VIDGATE_RUN_ENGINE=false), so no rendering competes for the CPU")
    print(f"request: {json.dumps(TASK_BODY)}", flush=True)
    results: list[Measured] = []
    cluster: PostgresCluster | None = None
    with bounded(600):
        try:
            for store in args.stores:
                url: str | None = None
                if store == "postgresql":
                    bin_dir = find_bin_dir()
                    if bin_dir is None:
                        print("PostgreSQL server binaries not found; set VIDGATE_PG_BIN")
                        return 1
                    cluster = start_cluster(bin_dir)
                    url = cluster.create_database()
                results.append(measure(args, store, url))
        finally:
            if cluster is not None:
                cluster.stop()
    print("\n".join(report(results)))
    print(load_note(after=True))
    return 0 if all(r.checks_ok() for r in results) else 1


def helper_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="the bare submit app (the baseline)")
    parser.add_argument("command", choices=["bare"])
    parser.add_argument("--port", type=int, required=True)
    serve_bare_submit(parser.parse_args(argv).port)


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        helper_main(sys.argv[1:])
    else:
        sys.exit(main())
