"""Upstream callbacks against pure polling: detection lag and status calls per task.

Method. One run, two scenarios on the same task plan. Each starts a fake Replicate API
(`vidgate.testing`, signing its webhooks with Standard Webhooks) and a gateway (in this
process, engine on, SQLite in a temporary data dir) whose one provider is that fake: first with
`callbacks = false` (pure polling), then with `callbacks = true` and `VIDGATE_PUBLIC_URL` set,
so that each prediction carries the gateway's own callback URL. `--tasks` tasks are submitted
at once; the fake renders task i for a time spread evenly from `--min-render` to `--max-render`
seconds. The provider polls as a real one would, scaled to those times (`poll_interval` 0.5 s,
`max_poll_interval` 6 s, typical times /60), four times slower while a callback is expected.

Reported per scenario: detection lag = the gateway task's `finished_at` (result fetched,
checked, stored) - the moment the fake task completed, p50/p95/max; upstream status calls per
task (GET /v1/predictions/{id} received / tasks); callbacks sent. Target for callbacks: p95 lag
< 1 s with <= 2 status calls per task, PASS or MISS. Exit status 1 when a task does not
complete. Usage:

    .venv/bin/python bench/upstream_callbacks.py [--tasks 40] [--min-render 1] [--max-render 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from harness import vidgate_env
from vidgate.service.keys import create_key
from vidgate.settings import Settings
from vidgate.store import open_store
from vidgate.testing import FakeUpstream, Timing

MODEL = "wan-video/wan-2.2-t2v-fast"
TARGET_P95 = 1.0
TARGET_CALLS = 2.0


@dataclass(frozen=True)
class Figures:
    scenario: str
    lags: list[float]
    calls_per_task: float
    callbacks: int
    wall: float

    def row(self) -> str:
        lags = sorted(self.lags)
        p95 = lags[max(0, round(0.95 * len(lags)) - 1)]
        return (
            f"| {self.scenario} | {len(lags)} | {statistics.median(lags):.2f} s | {p95:.2f} s | "
            f"{lags[-1]:.2f} s | {self.calls_per_task:.2f} | {self.callbacks} | {self.wall:.1f} s |"
        )

    @property
    def p95(self) -> float:
        lags = sorted(self.lags)
        return lags[max(0, round(0.95 * len(lags)) - 1)]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """`vidgate serve` in its own process, so that its CPU is not the fake's."""
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("vidgate")), "serve", "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the gateway did not start")
        time.sleep(0.05)


def run_scenario(name: str, callbacks: bool, args: argparse.Namespace, root: Path) -> Figures:
    fake = FakeUpstream("replicate", timing=Timing(queue_seconds=0.0, render_seconds=1.0)).start()
    port = _free_port()
    config = root / f"{name}.toml"
    config.write_text(
        "[providers.up]\n"
        f'kind = "replicate"\nbase_url = "{fake.base_url}"\napi_key = "r8-bench"\n'
        f"concurrency = {args.tasks}\nrequests_per_second = 500\npoll_interval = 0.5\n"
        "max_poll_interval = 6\nexpected_time_scale = 0.0167\n"
        f"callbacks = {'true' if callbacks else 'false'}\ncallback_poll_factor = 4\n"
        f'[routes]\n"{MODEL}" = ["up"]\n'
    )
    public = f"http://127.0.0.1:{port}"
    env = vidgate_env(root / name, port=port, config=config, allow_loopback=True)
    if callbacks:
        env["VIDGATE_PUBLIC_URL"] = public
    (root / name).mkdir(parents=True, exist_ok=True)
    key = _make_key(Settings(data_dir=root / name))
    gateway = _serve(env, port)
    start = time.monotonic()
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        )
        spread = args.max_render - args.min_render
        renders = {
            f"task {i}": args.min_render + spread * i / max(1, args.tasks - 1)
            for i in range(args.tasks)
        }
        planner = threading.Thread(target=_plan, args=(fake, renders), daemon=True)
        planner.start()
        ids: list[tuple[str, float]] = []
        for index in range(args.tasks):
            render = args.min_render + spread * index / max(1, args.tasks - 1)
            answer = client.post(
                "/v1/tasks", json={"prompt": f"task {index}", "model": MODEL, "resolution": "480P"}
            )
            answer.raise_for_status()
            ids.append((answer.json()["task_id"], render))
        deadline = time.monotonic() + args.max_render * 4 + 30
        done: dict[str, dict[str, Any]] = {}
        while len(done) < len(ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: {len(ids) - len(done)} tasks did not complete")
            for task_id, _ in ids:
                if task_id not in done:
                    task = client.get(f"/v1/tasks/{task_id}").json()
                    if task["status"] in ("completed", "failed", "cancelled"):
                        if task["status"] != "completed":
                            raise SystemExit(f"{name}: a task ended {task['status']}: {task}")
                        done[task_id] = task
            time.sleep(0.1)
        wall = time.monotonic() - start
        due = {t.request.prompt: t.end_at()[0] for t in fake.tasks.values()}
        lags = []
        for index, (task_id, _) in enumerate(ids):
            finished = datetime.fromisoformat(done[task_id]["finished_at"]).timestamp()
            lags.append(max(0.0, finished - due[f"task {index}"]))
        client.close()
        return Figures(
            name,
            lags,
            fake.counters.calls("GET /v1/predictions/{id}") / args.tasks,
            fake.counters.calls("callback"),
            wall,
        )
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
        fake.stop()


def _plan(fake: FakeUpstream, renders: dict[str, float]) -> None:
    """Give each task, as the fake accepts it, the render time its prompt was planned for."""
    planned: set[str] = set()
    while len(planned) < len(renders) and not fake.state.closing.is_set():
        for task in fake.state.tasks():
            if task.task_id not in planned:
                task.render_seconds = renders.get(task.request.prompt, task.render_seconds)
                planned.add(task.task_id)
        time.sleep(0.002)


def _make_key(settings: Settings) -> str:
    """An API key, made as the tests make theirs, in the gateway's own database."""

    async def make() -> str:
        store = open_store(settings.database)
        try:
            await store.open()
            return (await create_key(store, "bench")).key
        finally:
            await store.close()

    return asyncio.run(make())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--min-render", type=float, default=1.0)
    parser.add_argument("--max-render", type=float, default=4.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        polled = run_scenario("polling", False, args, Path(tmp))
        called = run_scenario("callbacks", True, args, Path(tmp))
    print(
        "| scenario | tasks | lag p50 | lag p95 | lag max | status calls/task | callbacks | wall |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(polled.row())
    print(called.row())
    verdict = called.p95 < TARGET_P95 and called.calls_per_task <= TARGET_CALLS
    print(
        f"callbacks: p95 {called.p95:.2f} s (target < {TARGET_P95:g} s), "
        f"{called.calls_per_task:.2f} status calls/task (target <= {TARGET_CALLS:g}): "
        f"{'PASS' if verdict else 'MISS'}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    f.scenario: {"p95": f.p95, "calls_per_task": f.calls_per_task, "lags": f.lags}
                    for f in (polled, called)
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
