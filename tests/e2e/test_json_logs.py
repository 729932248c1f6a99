"""`VIDGATE_LOG_FORMAT=json`: every line a gateway and a worker write is one JSON object, with
the request, key and task it concerns; the worker serves its own `/metrics`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port
from vidgate.service.keys import create_key
from vidgate.store import open_store


def _start(args: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "vidgate.cli.main", *args]
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the process ended"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer")


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert text.strip(), "nothing was logged"
    return [json.loads(line) for line in text.splitlines()]


def _completed_in(metrics: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "vidgate_tasks_total" and sample.labels["status"] == "completed":
                return float(sample.value)
    return 0.0


def test_gateway_and_worker_log_json_lines_with_their_context(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(tmp_path / "data"),
        "VIDGATE_PORT": str(port),
        "VIDGATE_LOG_FORMAT": "json",
        "VIDGATE_ENGINE_IDLE_INTERVAL": "0.1",
    }

    async def make_key() -> tuple[str, str]:
        (tmp_path / "data").mkdir(exist_ok=True)
        store = open_store(f"sqlite:///{tmp_path / 'data' / 'vidgate.db'}")
        try:
            await store.open()
            made = await create_key(store, "logs")
            return made.key, made.key_id
        finally:
            await store.close()

    gateway_log, worker_log = tmp_path / "gateway.log", tmp_path / "worker.log"
    with gateway_log.open("wb") as out:
        gateway = _start(["serve"], {**env, "VIDGATE_RUN_ENGINE": "false"}, out)
    with worker_log.open("wb") as out:
        worker = _start(["worker"], {**env, "VIDGATE_METRICS_PORT": str(metrics_port)}, out)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/healthz", gateway)
        _wait_for(f"http://127.0.0.1:{metrics_port}/metrics", worker)
        key, key_id = asyncio.run(make_key())
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
            created = api.post(
                "/v1/tasks", json={"prompt": "logged", "duration": 2, "resolution": "480P"}
            )
            request_id = created.headers["x-request-id"]
            task_id = created.json()["task_id"]
            body: dict[str, Any] = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and body.get("status") != "completed":
                body = api.get(f"/v1/tasks/{task_id}", params={"wait": 10}).json()
            assert body["status"] == "completed", body
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200
        assert _completed_in(scraped.text) == 1
        refused = httpx.get(
            f"http://127.0.0.1:{metrics_port}/metrics",
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert refused.status_code == 401
    finally:
        for process in (gateway, worker):
            process.terminate()
        # uvicorn ends a gateway by the signal it stopped for, once it has shut down.
        assert gateway.wait(timeout=30) in (0, -signal.SIGTERM), gateway_log.read_text()
        assert worker.wait(timeout=30) == 0, worker_log.read_text()

    served = _lines(gateway_log)
    assert all({"time", "level", "message"} <= line.keys() for line in served)
    submit = [line for line in served if line.get("request_id") == request_id]
    assert submit and all(line["key_id"] == key_id for line in submit), served
    assert any("POST /v1/tasks" in line["message"] for line in submit)
    assert key not in gateway_log.read_text()

    worked = _lines(worker_log)
    assert all({"time", "level", "message"} <= line.keys() for line in worked)
    ended = [line for line in worked if line.get("task_id") == task_id]
    assert ended, worked
    assert ended[-1]["provider"] == "local" and ended[-1]["key_id"] == key_id
    assert key not in worker_log.read_text()
