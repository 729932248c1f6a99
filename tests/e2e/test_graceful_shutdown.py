"""SIGTERM is a clean stop: a worker hands unfinished renders back to the queue uncounted,
and a gateway ends its event streams with a reconnect hint and exits within its drain time."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import free_port
from vidgate.records import TaskRecord
from vidgate.service.keys import create_key
from vidgate.settings import Settings
from vidgate.store import open_store

pytestmark = pytest.mark.timeout(180)

DRAIN = 1.0
LONG = {"prompt": "a long pan over hills", "duration": 10, "resolution": "720P"}


def launch(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vidgate.cli.main",
                command,
                *(["--no-access-log"] * (command == "serve")),
            ],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def wait_until(check: object, timeout: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def worker_name(log: Path) -> str | None:
    found = re.search(r"vidgate worker (worker-[0-9a-f]+) running", log.read_text(errors="replace"))
    return found.group(1) if found else None


class Setup:
    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.port = free_port()
        self.data_dir = tmp_path / "data"
        self.data_dir.mkdir()
        self.env = {
            **os.environ,
            "VIDGATE_DATA_DIR": str(self.data_dir),
            "VIDGATE_PORT": str(self.port),
            "VIDGATE_ENGINE_IDLE_INTERVAL": "0.1",
            **env,
        }
        self.settings = Settings(data_dir=self.data_dir, port=self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = asyncio.run(self._make_key())
        self.processes: list[subprocess.Popen[bytes]] = []

    async def _make_key(self) -> str:
        store = open_store(self.settings.database)
        await store.open()
        try:
            return (await create_key(store, "shutdown", 1000)).key
        finally:
            await store.close()

    def tasks(self, ids: list[str]) -> list[TaskRecord]:
        async def read() -> list[TaskRecord]:
            store = open_store(self.settings.database)
            await store.open()
            try:
                found = [await store.task(task_id) for task_id in ids]
            finally:
                await store.close()
            return [task for task in found if task is not None]

        return asyncio.run(read())

    def start(self, command: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
        process = launch(command, {**self.env, **env}, log)
        self.processes.append(process)
        return process

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def test_sigterm_hands_a_workers_renders_to_another_uncounted(tmp_path: Path) -> None:
    setup = Setup(
        tmp_path,
        VIDGATE_RUN_ENGINE="false",
        VIDGATE_LEASE_SECONDS="30",
        VIDGATE_DRAIN_TIMEOUT=str(DRAIN),
        VIDGATE_LOCAL_CONCURRENCY="2",
    )
    try:
        gateway = setup.start("serve", tmp_path / "gateway.log")
        wait_until(lambda: healthy(setup.url), 60, "the gateway starting")
        assert gateway.poll() is None
        first_log = tmp_path / "first.log"
        first = setup.start("worker", first_log)
        wait_until(lambda: worker_name(first_log), 60, "the first worker starting")
        first_name = worker_name(first_log)
        with setup.client() as api:
            ids = [api.post("/v1/tasks", json=LONG).json()["task_id"] for _ in range(2)]
            wait_until(
                lambda: all(t.lease_owner == first_name for t in setup.tasks(ids)),
                60,
                "the first worker claiming both tasks",
            )
            second_log = tmp_path / "second.log"
            setup.start("worker", second_log)
            wait_until(lambda: worker_name(second_log), 60, "the second worker starting")
            second_name = worker_name(second_log)
            assert all(t.status.value == "processing" for t in setup.tasks(ids)), "too fast"

            signalled = time.monotonic()
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=DRAIN + 15)
            exited = time.monotonic()
            assert first.returncode == 0, first_log.read_text()
            assert exited - signalled < DRAIN + 10

            wait_until(
                lambda: all(t.lease_owner == second_name for t in setup.tasks(ids)),
                2,
                "the second worker taking the handed-back tasks",
            )
            assert [t.attempts for t in setup.tasks(ids)] == [1, 1], "the stop was counted"
            for task_id in ids:
                deadline = time.monotonic() + 120
                while True:
                    body = api.get(f"/v1/tasks/{task_id}", params={"wait": 10}).json()
                    if body["status"] in ("completed", "failed", "cancelled"):
                        break
                    assert time.monotonic() < deadline, body
                assert body["status"] == "completed", body
            assert api.get("/v1/account").json()["used"] == 20
        assert [t.attempts for t in setup.tasks(ids)] == [1, 1]
    finally:
        setup.close()


def test_sigterm_ends_event_streams_and_the_gateway_exits_within_its_drain(
    tmp_path: Path,
) -> None:
    drain = 3.0
    setup = Setup(tmp_path, VIDGATE_DRAIN_TIMEOUT=str(drain), VIDGATE_SSE_HEARTBEAT="60")
    try:
        gateway = setup.start("serve", tmp_path / "gateway.log")
        wait_until(lambda: healthy(setup.url), 60, "the gateway starting")
        received: list[str] = []
        opened = threading.Event()

        def follow() -> None:
            with setup.client() as api, api.stream("GET", "/v1/events") as stream:
                opened.set()
                try:
                    for line in stream.iter_lines():
                        received.append(line)
                except httpx.HTTPError as exc:
                    received.append(f"error: {exc!r}")

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        assert opened.wait(30)
        wait_until(lambda: any("connected" in line for line in received), 10, "the stream opening")

        signalled = time.monotonic()
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(timeout=drain + 10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the gateway was still running {drain + 10}s after SIGTERM")
        assert time.monotonic() - signalled < drain + 10
        follower.join(timeout=10)
        assert not follower.is_alive(), "the stream did not end"
        after = received[received.index(next(r for r in received if "connected" in r)) + 1 :]
        assert any(line.startswith("retry: ") for line in after), received
        assert any("shutting down" in line for line in after), received
    finally:
        setup.close()
