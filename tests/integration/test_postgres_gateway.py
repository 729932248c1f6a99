"""The gateway on PostgreSQL: a task's life, racing cancels and submits, and two gateways
sharing one database."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, start_gateway, wait_terminal

pytest_plugins = ["postgres"]  # the postgres_cluster and postgres_url fixtures

SMALL = {"prompt": "a quiet lake", "duration": 2, "resolution": "480P"}
SECRET = "postgres-gateway-tests-shared-secret"


@pytest.fixture
def pg_gateway(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    """Start gateways on this test's PostgreSQL database; all are stopped afterwards."""
    started: list[RunningGateway] = []

    def start(data_dir: Path | None = None, **overrides: Any) -> RunningGateway:
        directory = data_dir or tmp_path / f"data{len(started)}"
        running = start_gateway(directory, database_url=postgres_url, **overrides)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def account(api: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = api.get("/v1/account").json()
    return body


def stream_kinds(api: httpx.Client, task_id: str) -> list[tuple[int, str]]:
    """The ids and types of a task's server-sent events, up to its terminal one."""
    seen: list[tuple[int, str]] = []
    with api.stream("GET", f"/v1/tasks/{task_id}/events") as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                seen.append((data["id"], data["type"]))
    return seen


def test_submit_wait_download_and_settle(pg_gateway: Callable[..., RunningGateway]) -> None:
    gateway = pg_gateway()
    assert gateway.settings.database.startswith("postgresql+asyncpg://")
    with gateway.client(gateway.make_key("pg", quota=10)) as api:
        created = api.post("/v1/tasks", json=SMALL)
        assert created.status_code == 202
        task_id = created.json()["task_id"]
        assert account(api)["reserved"] == 2

        body = wait_terminal(api, task_id)
        assert body["status"] == "completed"
        assert body["progress"] == 100
        assert body["started_at"] and body["finished_at"]
        assert body["usage"]["duration"] == 2.0

        download = httpx.get(body["result"]["video_url"], timeout=30)
        assert download.status_code == 200
        assert download.headers["content-type"] == "video/mp4"
        assert download.content[4:8] == b"ftyp"

        after = account(api)
        assert after == {**after, "quota": 10, "used": 2, "reserved": 0, "balance": 8}
        assert [t["task_id"] for t in api.get("/v1/tasks").json()["data"]] == [task_id]

        events = stream_kinds(api, task_id)
        kinds = [kind for _, kind in events]
        assert (kinds[0], kinds[-1]) == ("task.queued", "task.completed")
        assert [i for i, _ in events] == sorted({i for i, _ in events})


def test_concurrent_cancels_refund_once(pg_gateway: Callable[..., RunningGateway]) -> None:
    gateway = pg_gateway(run_engine=False)
    with gateway.client(gateway.make_key("q", quota=10)) as api:
        task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        assert account(api)["reserved"] == 2
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(lambda _: api.post(f"/v1/tasks/{task_id}/cancel").status_code, range(8))
            )
        assert sorted(codes) == [200] + [409] * 7
        task = api.get(f"/v1/tasks/{task_id}").json()
        assert task["status"] == "cancelled"
        assert task["error"]["code"] == "cancelled"
        after = account(api)
        assert after == {**after, "used": 0, "reserved": 0, "balance": 10}


def test_concurrent_idempotent_submits_create_one_task(
    pg_gateway: Callable[..., RunningGateway],
) -> None:
    gateway = pg_gateway(run_engine=False)
    with gateway.client(gateway.make_key("idem", quota=100)) as api:
        headers = {"Idempotency-Key": "order-42"}

        def submit(_: int) -> httpx.Response:
            return api.post("/v1/tasks", json=SMALL, headers=headers)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(submit, range(8)))
        assert {r.status_code for r in responses} == {202}
        assert len({r.json()["task_id"] for r in responses}) == 1
        assert account(api)["reserved"] == 2
        assert len(api.get("/v1/tasks").json()["data"]) == 1
        changed = api.post("/v1/tasks", json={**SMALL, "prompt": "other"}, headers=headers)
        assert changed.status_code == 409
        assert changed.json()["error"]["code"] == "idempotency_key_reused"


def test_two_gateways_share_one_database(
    pg_gateway: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    """One gateway runs the engine, the other only serves: it hears of progress through the
    shared events table and serves results from the shared data directory."""
    shared = tmp_path / "shared"
    worker = pg_gateway(shared, secret_key=SECRET)
    front = pg_gateway(shared, secret_key=SECRET, run_engine=False)
    key = front.make_key("shared", quota=20)
    with front.client(key) as on_front, worker.client(key) as on_worker:
        from_front = on_front.post("/v1/tasks", json=SMALL).json()["task_id"]
        from_worker = on_worker.post("/v1/tasks", json=SMALL).json()["task_id"]
        assert account(on_front)["reserved"] == account(on_worker)["reserved"] == 4

        events = stream_kinds(on_front, from_front)
        assert [kind for _, kind in events][-1] == "task.completed"
        finished = [wait_terminal(on_front, t) for t in (from_front, from_worker)]
        assert [body["status"] for body in finished] == ["completed", "completed"]

        for body in finished:
            assert body["result"]["video_url"].startswith(front.url + "/")
            download = httpx.get(body["result"]["video_url"], timeout=30)
            assert download.status_code == 200
            assert download.content[4:8] == b"ftyp"

        listed = {t["task_id"] for t in on_worker.get("/v1/tasks").json()["data"]}
        assert listed == {from_front, from_worker}
        for api in (on_front, on_worker):
            after = account(api)
            assert after == {**after, "quota": 20, "used": 4, "reserved": 0, "balance": 16}
