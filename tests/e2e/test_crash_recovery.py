"""`kill -9` of the gateway mid-render: after a restart every task ends, charged once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from conftest import free_port, wait_healthy
from vidgate.service.keys import create_key
from vidgate.settings import Settings
from vidgate.store import open_store


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "vidgate.cli.main", "serve", "--no-access-log"],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


async def ledger_and_events(settings: Settings, key_id: str) -> tuple[list[Any], Any, list[Any]]:
    store = open_store(settings.database)
    await store.open()
    try:
        rows = await store.ledger_for(key_id)
        key = await store.key_by_id(key_id)
        events = await store.events_after(key_id, 0)
        return rows, key, events
    finally:
        await store.close()


def test_kill_9_during_rendering_loses_and_doubles_nothing(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(data_dir),
        "VIDGATE_PORT": str(port),
        "VIDGATE_LEASE_SECONDS": "2",
        "VIDGATE_LOCAL_CONCURRENCY": "2",
    }
    settings = Settings(data_dir=data_dir, port=port)
    data_dir.mkdir()

    async def make_key() -> tuple[str, str]:
        store = open_store(settings.database)
        await store.open()
        try:
            made = await create_key(store, "crash", 1000)
            return made.key, made.key_id
        finally:
            await store.close()

    key, key_id = asyncio.run(make_key())
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "gateway.log"
    process = start(env, log)
    try:
        wait_healthy(url, process)
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        ids = [
            api.post(
                "/v1/tasks", json={"prompt": f"crash {i}", "duration": 10, "resolution": "720P"}
            ).json()["task_id"]
            for i in range(4)
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [api.get(f"/v1/tasks/{i}").json() for i in ids]
            if any(s["status"] == "processing" and s["progress"] > 0 for s in states):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("no task started rendering")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        interrupted = [s["task_id"] for s in states if s["status"] == "processing"]
        assert interrupted

        process = start(env, log)
        wait_healthy(url, process)
        finals = []
        for task_id in ids:
            deadline = time.monotonic() + 120
            while True:
                body = api.get(f"/v1/tasks/{task_id}", params={"wait": 10}).json()
                if body["status"] in ("completed", "failed", "cancelled"):
                    finals.append(body)
                    break
                assert time.monotonic() < deadline, body
        assert [f["status"] for f in finals] == ["completed"] * 4
        for final in finals:
            assert httpx.get(final["result"]["video_url"]).status_code == 200
        api.close()
    finally:
        process.kill()
        process.wait(timeout=10)

    ledger, key_row, events = asyncio.run(ledger_and_events(settings, key_id))
    kinds = Counter((entry.task_id, entry.kind) for entry in ledger)
    for task_id in ids:
        assert kinds[(task_id, "reserve")] == 1
        assert kinds[(task_id, "settle")] == 1
        assert kinds[(task_id, "refund")] == 0
    assert len(ledger) == 8
    assert key_row.reserved_seconds == 0
    assert key_row.used_seconds == sum(f["usage"]["duration"] for f in finals) == 40
    completed = Counter(e.task_id for e in events if e.type == "task.completed")
    assert completed == dict.fromkeys(ids, 1)
    blobs = data_dir / "blobs"
    results = [p for p in blobs.rglob("*.mp4") if p.relative_to(blobs).parts[0] != "tmp"]
    assert sorted(p.name.split(".")[0] for p in results) == sorted(ids)


def test_kill_9_before_delivery_loses_no_webhook(tmp_path: Path) -> None:
    from receiver import start_receiver

    receiver = start_receiver()
    receiver.down = True
    port = free_port()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(data_dir),
        "VIDGATE_PORT": str(port),
        "VIDGATE_ALLOW_NETWORKS": "127.0.0.0/8",
        "VIDGATE_WEBHOOK_RETRY_BASE": "0.2",
        # A delivery the killed process had claimed waits out its lease before the next
        # process sends it; keep that short, so the wait below never races it.
        "VIDGATE_WEBHOOK_LEASE": "3",
        "VIDGATE_WEBHOOK_ATTEMPT_TIMEOUT": "2",
    }
    settings = Settings(data_dir=data_dir, port=port)

    async def make_key() -> str:
        store = open_store(settings.database)
        await store.open()
        try:
            return (await create_key(store, "hooks", None)).key
        finally:
            await store.close()

    key = asyncio.run(make_key())
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "gateway.log"
    process = start(env, log)
    try:
        wait_healthy(url, process)
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as api:
            body = {
                "prompt": "p",
                "duration": 2,
                "resolution": "480P",
                "callback_url": receiver.url,
            }
            task_id = api.post("/v1/tasks", json=body).json()["task_id"]
            while api.get(f"/v1/tasks/{task_id}", params={"wait": 5}).json()["status"] not in (
                "completed",
                "failed",
            ):
                pass
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            assert receiver.received == []
            receiver.down = False
            process = start(env, log)
            wait_healthy(url, process)
            [delivery] = receiver.wait_for(1, timeout=60)
            assert json.loads(delivery.body)["data"]["task_id"] == task_id
            # The receiver has the delivery before the gateway has logged its answer.
            deadline = time.monotonic() + 30
            while True:
                log_rows = api.get(f"/v1/tasks/{task_id}/deliveries").json()["data"]
                if log_rows[0]["status"] != "pending" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert [d["status"] for d in log_rows] == ["delivered"]
            codes = [a["status_code"] for a in log_rows[0]["attempts"]]
            assert codes[-1] == 204 and set(codes[:-1]) <= {503}
    finally:
        process.kill()
        process.wait(timeout=10)
        receiver.close()
