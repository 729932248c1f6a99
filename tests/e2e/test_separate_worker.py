"""`vidgate worker` renders for a gateway that runs no engine; waiters hear of it at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx


def test_worker_process_completes_tasks_for_the_gateway(
    gateway_factory: Any, tmp_path: Path
) -> None:
    gateway = gateway_factory(run_engine=False)
    env = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(gateway.settings.data_dir),
        "VIDGATE_ENGINE_IDLE_INTERVAL": "0.1",
    }
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "vidgate.cli.main", "worker"], env=env, stdout=log, stderr=log
        )
    try:
        with gateway.client(gateway.make_key()) as api:
            task_id = api.post(
                "/v1/tasks", json={"prompt": "elsewhere", "duration": 2, "resolution": "480P"}
            ).json()["task_id"]
            deadline = time.monotonic() + 60
            body: dict[str, Any] = {}
            while time.monotonic() < deadline:
                body = api.get(f"/v1/tasks/{task_id}", params={"wait": 20}).json()
                if body["status"] == "completed":
                    break
            returned = datetime.now().astimezone()
            assert body["status"] == "completed", body
            finished = datetime.fromisoformat(body["finished_at"])
            assert (returned - finished).total_seconds() < 1.0
            assert httpx.get(body["result"]["video_url"]).status_code == 200
    finally:
        worker.terminate()
        assert worker.wait(timeout=20) == 0
