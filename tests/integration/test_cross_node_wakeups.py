"""Nodes on one PostgreSQL hear of each other's events by LISTEN/NOTIFY, at once.

The table tail these nodes would otherwise fall back on is set to 30 s, so every wake-up in
well under that can only have come by NOTIFY, or by the catch-up read after a reconnect.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conftest import RunningGateway, start_gateway, wait_terminal
from vidgate.models import Status, TaskError
from vidgate.records import Transition
from vidgate.store import SqlStore

if TYPE_CHECKING:
    from postgres import PostgresCluster

pytest_plugins = ["postgres"]  # the postgres_cluster and postgres_url fixtures

SMALL = {"prompt": "a quiet lake", "duration": 2, "resolution": "480P"}
SECRET = "cross-node-wakeups-tests-shared-secret"
SLOW_TAIL = 30.0
TOLD_WITHIN = 1.5
CANCELLED = TaskError(code="cancelled", message="Cancelled from elsewhere.")
LISTENERS = "application_name = 'vidgate event listener' AND datname = current_database()"


@pytest.fixture
def node(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    """Start gateways on one database and data dir, tailing the table only every 30 s."""
    started: list[RunningGateway] = []

    def start(**overrides: Any) -> RunningGateway:
        values = {"secret_key": SECRET, "event_tail_interval": SLOW_TAIL, **overrides}
        running = start_gateway(tmp_path / "shared", database_url=postgres_url, **values)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def wait_listening(*gateways: RunningGateway, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not all(g.runtime.feed and g.runtime.feed.listening.is_set() for g in gateways):
        assert time.monotonic() < deadline, "the event feed did not start listening"
        time.sleep(0.02)


def listener_pids(cluster: PostgresCluster, url: str) -> set[int]:
    database = url.rsplit("/", 1)[1]
    found = cluster.psql(f"SELECT pid FROM pg_stat_activity WHERE {LISTENERS}", database)
    return {int(line) for line in found.split()}


async def kill_listeners_then_cancel(url: str, task_id: str) -> int:
    """Terminate every LISTEN connection, and cancel the task from a third process at once,
    well before any listener can have reconnected: its notification is lost."""
    store = SqlStore(url)
    await store.open()
    try:
        async with store.db.reading() as conn:
            killed = await conn.exec_driver_sql(
                f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {LISTENERS}"
            )
            count = int(killed.scalar_one())
        change = Transition(expected=[Status.QUEUED], to=Status.CANCELLED, error=CANCELLED)
        assert await store.transition(task_id, change) is not None
        return count
    finally:
        await store.close()


def finished_ago(body: dict[str, Any]) -> float:
    """Seconds since the task's terminal change, as the gateway reported it."""
    finished = datetime.fromisoformat(body["finished_at"])
    return (datetime.now().astimezone() - finished).total_seconds()


class Stream:
    """An SSE stream of one task's events in a thread: each event's id, type and arrival."""

    def __init__(self, api: httpx.Client, task_id: str) -> None:
        self.seen: list[tuple[int, str, float]] = []
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(api, task_id), daemon=True)
        self.thread.start()
        assert self.opened.wait(10)

    def _read(self, api: httpx.Client, task_id: str) -> None:
        try:
            with api.stream("GET", f"/v1/tasks/{task_id}/events") as response:
                self.opened.set()
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        data = json.loads(line.removeprefix("data: "))
                        self.seen.append((data["id"], data["type"], time.time()))
        except httpx.HTTPError:  # the test ended, and closed the client, before the stream did
            pass

    def ended(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


def test_a_waiter_on_another_gateway_is_told_at_once(
    node: Callable[..., RunningGateway],
) -> None:
    worker = node()
    front = node(run_engine=False)
    wait_listening(worker, front)
    key = front.make_key("k")
    with front.client(key) as api:
        streamed = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        polled = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        stream = Stream(api, streamed)
        body = wait_terminal(api, polled)
        assert body["status"] == "completed"
        assert finished_ago(body) < TOLD_WITHIN
        assert stream.ended(60)
        final = wait_terminal(api, streamed)
        _, kind, arrived = stream.seen[-1]
        assert kind == "task.completed"
        assert arrived - datetime.fromisoformat(final["finished_at"]).timestamp() < TOLD_WITHIN


def test_events_still_arrive_after_the_listen_connection_is_killed(
    node: Callable[..., RunningGateway], postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    other = node(run_engine=False)
    front = node(run_engine=False)
    wait_listening(other, front)
    key = front.make_key("k")
    with front.client(key) as api, other.client(key) as elsewhere:
        first, second = (api.post("/v1/tasks", json=SMALL).json()["task_id"] for _ in range(2))
        stream = Stream(api, first)
        before = listener_pids(postgres_cluster, postgres_url)
        assert len(before) == 2
        cancelled_at = time.time()
        assert asyncio.run(kill_listeners_then_cancel(postgres_url, first)) == 2
        assert stream.ended(TOLD_WITHIN * 2)
        assert [kind for _, kind, _ in stream.seen] == ["task.queued", "task.cancelled"]
        assert stream.seen[-1][2] - cancelled_at < TOLD_WITHIN

        wait_listening(other, front)
        after = listener_pids(postgres_cluster, postgres_url)
        assert len(after) == 2 and not after & before
        waiting = threading.Thread(target=lambda: wait_terminal(api, second), daemon=True)
        waiting.start()
        time.sleep(0.2)
        assert elsewhere.post(f"/v1/tasks/{second}/cancel").status_code == 200
        waiting.join(TOLD_WITHIN)
        assert not waiting.is_alive()

        replay: list[int] = []
        with api.stream("GET", "/v1/events", headers={"Last-Event-ID": "0"}) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    replay.append(json.loads(line.removeprefix("data: "))["id"])
                    if len(replay) == 4:
                        break
        assert [i for i, _, _ in stream.seen] == [replay[0], replay[2]]


def test_a_submit_wakes_a_worker_process_at_once(
    node: Callable[..., RunningGateway], postgres_url: str, tmp_path: Path
) -> None:
    front = node(run_engine=False)
    wait_listening(front)
    env = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(front.settings.data_dir),
        "VIDGATE_DATABASE_URL": postgres_url,
        "VIDGATE_SECRET_KEY": SECRET,
        "VIDGATE_PUBLIC_URL": front.url,
        "VIDGATE_ENGINE_IDLE_INTERVAL": str(SLOW_TAIL),
        "VIDGATE_EVENT_TAIL_INTERVAL": str(SLOW_TAIL),
    }
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "vidgate.cli.main", "worker"], env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while "running" not in (tmp_path / "worker.log").read_text():
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.0)  # past the worker's first claim: its dispatcher now waits 30 s
        with front.client(front.make_key("k")) as api:
            created = api.post("/v1/tasks", json=SMALL).json()
            body = wait_terminal(api, created["task_id"])
        assert body["status"] == "completed", body
        woke = datetime.fromisoformat(body["started_at"]) - datetime.fromisoformat(
            created["created_at"]
        )
        assert woke.total_seconds() < TOLD_WITHIN
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
