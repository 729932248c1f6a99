"""The database going away is an outage, not data loss: on PostgreSQL, dropped connections
fail no task and render none twice, and while the database refuses connections clients get
503 with Retry-After (and `/readyz` says so) until it is back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, start_gateway, wait_terminal
from vidgate.records import TaskRecord
from vidgate.store import open_store

pytest_plugins = ["postgres"]  # the postgres_cluster and postgres_url fixtures

pytestmark = pytest.mark.timeout(240)

TASK = {"prompt": "a harbour at dusk", "duration": 4, "resolution": "480P", "fps": 8}


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def terminate_sessions(cluster: Any, name: str) -> int:
    """Kill every session on the database, as a failover or a restarted pooler would."""
    killed = cluster.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    return int(killed or 0)


def wait_ended(api: httpx.Client, task_id: str, timeout: float = 150) -> dict[str, Any]:
    """Long-poll to the end, retrying a 503 as a client should while connections drop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/v1/tasks/{task_id}", params={"wait": 10})
        if response.status_code == 503:
            assert response.headers["retry-after"]
            time.sleep(0.2)
            continue
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
    raise AssertionError(f"task {task_id} did not finish in {timeout}s")


def read_tasks(url: str, ids: list[str]) -> list[TaskRecord]:
    async def read() -> list[TaskRecord]:
        store = open_store(url)
        await store.open()
        try:
            found = [await store.task(task_id) for task_id in ids]
        finally:
            await store.close()
        return [task for task in found if task is not None]

    return asyncio.run(read())


@pytest.fixture
def pg_gateway(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    started: list[RunningGateway] = []

    def start(**overrides: Any) -> RunningGateway:
        running = start_gateway(
            tmp_path / f"data{len(started)}", database_url=postgres_url, **overrides
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def test_dropped_connections_fail_no_task_and_render_none_twice(
    pg_gateway: Callable[..., RunningGateway], postgres_cluster: Any, postgres_url: str
) -> None:
    gateway = pg_gateway(local_concurrency=4)
    name = database_name(postgres_url)
    with gateway.client(gateway.make_key("drops", quota=100)) as api:
        ids = [api.post("/v1/tasks", json=TASK).json()["task_id"] for _ in range(8)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses = [api.get(f"/v1/tasks/{task_id}").json()["status"] for task_id in ids]
            if statuses.count("processing") >= 2:
                break
            time.sleep(0.1)
        assert terminate_sessions(postgres_cluster, name) > 0
        time.sleep(1)
        terminate_sessions(postgres_cluster, name)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ended = list(pool.map(lambda task_id: wait_ended(api, task_id), ids))
        assert [body["status"] for body in ended] == ["completed"] * 8, [
            body.get("error") for body in ended
        ]
        account = api.get("/v1/account").json()
        assert (account["used"], account["reserved"]) == (8 * TASK["duration"], 0)
    stored = read_tasks(postgres_url, ids)
    assert [task.attempts for task in stored] == [1] * 8, "a task was rendered twice"
    assert all(task.result is not None and task.result.blob.endswith(".1.mp4") for task in stored)


def test_an_unreachable_database_answers_503_and_recovers(
    pg_gateway: Callable[..., RunningGateway], postgres_cluster: Any, postgres_url: str
) -> None:
    gateway = pg_gateway()
    name = database_name(postgres_url)
    key = gateway.make_key("outage", quota=100)
    with gateway.client(key) as api:
        created = api.post("/v1/tasks", json={**TASK, "duration": 2})
        assert created.status_code == 202
        task_id = created.json()["task_id"]
        assert api.get("/readyz").json() == {
            "status": "ok",
            "checks": {"database": "ok", "blobs": "ok"},
        }
        postgres_cluster.psql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            terminate_sessions(postgres_cluster, name)
            answers = [
                api.get(f"/v1/tasks/{task_id}"),
                api.post("/v1/tasks", json=TASK),
                api.get("/v1/account"),
                api.post(
                    "/api/v1/services/aigc/video-generation/video-synthesis",
                    json={"model": "wan2.6-t2v", "input": {"prompt": "a boat"}},
                    headers={"X-DashScope-Async": "enable"},
                ),
            ]
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == "5"
            assert answers[0].json()["error"]["code"] == "store_unavailable"
            assert "SELECT" not in answers[0].text and "asyncpg" not in answers[0].text
            ready = api.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"].startswith("unavailable")
            assert api.get("/healthz").status_code == 200, "liveness ignores dependencies"
            with api.stream("GET", "/v1/events") as stream:
                # A cached key may open the stream; it then ends at once with a reconnect hint.
                text = stream.read().decode()
            if stream.status_code == 200:
                assert "retry: " in text.split("connected", 1)[1], text
                assert "store is unavailable" in text
            else:
                assert stream.status_code == 503
        finally:
            postgres_cluster.psql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert api.get("/readyz").status_code == 200
        body = wait_terminal(api, task_id)
        assert body["status"] == "completed"
        assert api.get("/v1/account").json()["used"] == 2
