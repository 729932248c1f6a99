"""Webhooks keep pace with a burst of cancels that holds the gateway's event loop busy.

The gateway runs as its own process (`vidgate serve`), so its event loop is not shared with
the test's threads. 120 tasks with a `callback_url` are cancelled over 8 connections as fast
as the gateway answers; most `task.cancelled` deliveries must reach the receiver before the
last cancel is answered, not once the burst is over, and each exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conftest import free_port, wait_healthy
from receiver import start_receiver
from vidgate.service.keys import create_key
from vidgate.settings import Settings
from vidgate.store import open_store

TASKS = 120
CONNECTIONS = 8
BODY = {"prompt": "a burst", "duration": 2, "resolution": "480P"}


async def cancel_all(url: str, key: str, task_ids: list[str]) -> list[int]:
    """Cancel every task over `CONNECTIONS` connections, each sending its next at once."""
    pending = list(task_ids)
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=CONNECTIONS)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:

        async def worker() -> None:
            while pending:
                task_id = pending.pop()
                answer = await client.post(f"/v1/tasks/{task_id}/cancel", timeout=30)
                statuses.append(answer.status_code)

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return statuses


def test_deliveries_go_out_during_a_burst_of_cancels(tmp_path: Path) -> None:
    receiver = start_receiver()
    port = free_port()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(data_dir),
        "VIDGATE_PORT": str(port),
        "VIDGATE_ALLOW_NETWORKS": "127.0.0.0/8",
    }

    async def make_key() -> str:
        store = open_store(Settings(data_dir=data_dir, port=port).database)
        await store.open()
        try:
            return (await create_key(store, "burst", None)).key
        finally:
            await store.close()

    key = asyncio.run(make_key())
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "gateway.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "vidgate.cli.main", "serve", "--no-access-log"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(url, process)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as api:
            body = {**BODY, "callback_url": receiver.url}
            task_ids = [api.post("/v1/tasks", json=body).json()["task_id"] for _ in range(TASKS)]
        statuses = asyncio.run(cancel_all(url, key, task_ids))
        with receiver.lock:
            during_burst = len(receiver.received)
        assert set(statuses) <= {200, 409}, statuses
        # 409: the engine had rendered that task first, and reports task.completed instead.
        delivered = receiver.wait_for(TASKS, timeout=60)
        time.sleep(0.3)  # room for a duplicate to arrive
        ids = [d.headers["webhook-id"] for d in receiver.received]
        assert len(ids) == len(set(ids)) == TASKS
        assert {json.loads(d.body)["data"]["task_id"] for d in delivered} == set(task_ids)
        assert during_burst >= TASKS // 2, (
            f"only {during_burst} of {TASKS} webhooks arrived before the last cancel was answered"
        )
    finally:
        process.kill()
        process.wait(timeout=10)
        receiver.close()
