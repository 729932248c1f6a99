"""Idle RSS: the resident memory of a gateway process that does not render.

What it measures: `VmRSS` (Linux /proc/PID/status) of `vidgate serve --no-access-log` once it
answers `GET /healthz` ("after start") and again after one authenticated submit and one read
of that task ("after one request"), in five configurations started by this script:

- the baseline: a bare Starlette app on uvicorn (the same server stack, nothing of vidgate);
- the libraries' floor: one FastAPI route on uvicorn in a process that also imports SQLAlchemy
  with its SQLite dialect, pydantic-settings and prometheus-client and opens one SQLite
  connection, run as `vidgate serve` runs (`python -OO`): what the gateway's own libraries cost
  before any of its code;
- API only: `VIDGATE_RUN_ENGINE=false`, as `vidgate serve` starts (it restarts itself as
  `python -OO`, leaving docstrings out);
- API only with `PYTHONOPTIMIZE=0`, which keeps the interpreter as started (docstrings in);
- the engine on, with every model routed to an upstream (no local renderer route), whose
  base URL refuses connections, so the submitted task never reaches a renderer.

Each row names the interpreter options its process ran with, read from /proc/PID/cmdline.

Neither gateway configuration should import PyAV, NumPy, Pillow or Alembic: they load only in
a process that renders, cuts previews, probes an uploaded input or migrates its database.

Target: API only, after one request, `<= 70 MB`, reported as PASS or MISS. Usage:

    .venv/bin/python bench/idle_rss.py
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import httpx

from harness import (
    Column,
    Gateway,
    Process,
    Processes,
    bounded,
    free_port,
    load_note,
    process_memory_kib,
    table,
    verdict,
    wait_http,
)

TARGET_MB = 70.0
TASK_BODY = {"prompt": "A cat running across a meadow", "duration": 2, "resolution": "480P"}
UPSTREAM_ONLY = """[providers.up]
kind = "dashscope"
base_url = "http://127.0.0.1:9/api/v1"
api_key = "sk-bench"

[routes]
default = ["up"]
"""
SETTLE_S = 0.5
FLOOR = Path(__file__).with_name("library_floor.py")


def options(process: Process) -> str:
    """The interpreter options the process runs with (what precedes its script or `-m`)."""
    with open(f"/proc/{process.pid}/cmdline", "rb") as handle:
        argv = handle.read().decode().split("\0")[1:]
    taken = itertools.takewhile(lambda arg: arg.startswith("-"), argv)
    return " ".join(arg for arg in taken if arg != "-m") or "-"


def rss_mb(process: Process) -> float:
    """The process's resident set size in MB (10^6 bytes), after a short settle."""
    time.sleep(SETTLE_S)
    return process_memory_kib(process.pid)["VmRSS"] * 1024 / 1e6


def one_request(gateway: Gateway) -> None:
    """One submit and one read of the task it made."""
    with gateway.client() as client:
        made = client.post("/v1/tasks", json=TASK_BODY)
        made.raise_for_status()
        client.get(f"/v1/tasks/{made.json()['task_id']}").raise_for_status()


def main() -> int:
    print(f"VmRSS of one process each, MB (10^6 bytes); {load_note()}", flush=True)
    rows: list[tuple[str, str, float, float]] = []
    with bounded(180), Processes("vidgate-bench-rss-") as processes:
        bare = processes.bare("bare", b'{"ok": true}')
        started = rss_mb(bare)
        httpx.get(bare.url + "/v1/tasks/x").raise_for_status()
        rows.append(("bare Starlette on uvicorn", options(bare), started, rss_mb(bare)))
        processes.stop(bare)

        port = free_port()
        floor = processes.helper("floor", FLOOR, "--port", str(port), port=port, python=["-OO"])
        wait_http(floor, "/")
        started = rss_mb(floor)
        httpx.get(floor.url + "/v1/tasks/x").raise_for_status()
        rows.append(
            ("libraries' floor (FastAPI, SQLAlchemy, ...)", options(floor), started, rss_mb(floor))
        )
        processes.stop(floor)

        for name, extra in (
            ("gateway, VIDGATE_RUN_ENGINE=false", {}),
            ("the same, PYTHONOPTIMIZE=0", {"PYTHONOPTIMIZE": "0"}),
        ):
            api = processes.gateway(name, run_engine=False, extra_env=extra)
            started = rss_mb(api)
            one_request(api)
            rows.append((name, options(api), started, rss_mb(api)))
            processes.stop(api)

        config = processes.workdir / "upstream-only.toml"
        config.write_text(UPSTREAM_ONLY)
        engine = processes.gateway("gateway-engine", run_engine=True, config=config)
        started = rss_mb(engine)
        one_request(engine)
        rows.append(
            ("gateway, engine on, upstream routes only", options(engine), started, rss_mb(engine))
        )
        processes.stop(engine)

    baseline = rows[0][3]
    columns = [
        Column("process", 42, "<"),
        Column("python", 7, "<"),
        Column("after start", 12),
        Column("after 1 request", 16),
        Column("x baseline", 11),
    ]
    cells = [
        [name, python, f"{start:.1f}", f"{after:.1f}", f"{after / baseline:.2f}"]
        for name, python, start, after in rows
    ]
    print("\n".join(table(columns, cells)))
    floor_after, api_after, kept_after = rows[1][3], rows[2][3], rows[3][3]
    print(
        f"API-only RSS after one request = {api_after:.1f} MB "
        f"(baseline {baseline:.1f} MB, {api_after / baseline:.2f}x; target <= {TARGET_MB:g} MB) "
        f"{verdict(api_after <= TARGET_MB)}"
    )
    print(
        f"of which the libraries' floor is {floor_after:.1f} MB and vidgate's own code, routes "
        f"and runtime {api_after - floor_after:.1f} MB; with docstrings kept (PYTHONOPTIMIZE=0) "
        f"{kept_after:.1f} MB"
    )
    print(load_note(after=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
