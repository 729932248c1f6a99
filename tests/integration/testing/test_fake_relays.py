"""The native, kik and nebula fakes answer exactly as seeds 002, 003 and 004 show."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fake_clients import fast, serving, slow

from vidgate.testing import ManualClock, Timing

KIK_RUNNING: dict[str, Any] = {
    "task_id": "a1b2c3d4-e5f6-...",
    "task_status": "running",
    "model": "wan2.1-t2v-turbo",
    "created": 1719000000000,
    "updated": 1719000005000,
    "completed": None,
    "data": [],
    "error": None,
}
KIK_SUCCESS = {**KIK_RUNNING, "task_status": "success", "completed": 1719000050000}
KIK_FAILED = {
    **KIK_SUCCESS,
    "task_status": "failed",
    "error": {"code": "upstream_task_failed", "message": "upstream video generation task failed"},
}
NEBULA_QUEUED = {
    "task_id": "video_69095b4ce0048190893a01510c0c98b0",
    "status": "queued",
    "format": "mp4",
}
NEBULA_FAILED = {
    **NEBULA_QUEUED,
    "status": "failed",
    "error": {"code": 400, "message": "Prompt contains inappropriate content"},
}
FLAT = {"model": "wan2.1-t2v-turbo", "prompt": "A cat walking on the beach", "duration": 5}


def same_shape(actual: dict[str, Any], example: dict[str, Any]) -> None:
    """Same keys in the same order, and each value of the example's JSON type."""
    assert list(actual) == list(example)
    for name, value in example.items():
        if value is None:
            assert actual[name] is None, name
        else:
            assert type(actual[name]) is type(value), name


def test_native_create_read_and_cancel_only_while_queued() -> None:
    clock = ManualClock()
    with serving("native", timing=slow(), clock=clock) as (fake, client):
        created = client.post("/v1/tasks", json={**FLAT, "action": "generate"})
        assert created.status_code == 202
        body = created.json()
        assert (body["status"], body["model"], body["prompt"]) == (
            "queued",
            FLAT["model"],
            FLAT["prompt"],
        )
        assert fake.tasks[body["task_id"]].body["action"] == "generate"
        assert created.headers["retry-after"] and created.headers["openai-poll-after-ms"]
        queued_id = body["task_id"]
        running_id = client.post("/v1/tasks", json=FLAT).json()["task_id"]

        cancelled = client.post(f"/v1/tasks/{queued_id}/cancel").json()
        assert cancelled["status"] == "cancelled"
        assert cancelled["error"]["code"] == "cancelled"
        clock.advance(11)
        refused = client.post(f"/v1/tasks/{running_id}/cancel")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "task_not_cancellable"

        clock.advance(60)
        done = client.get(f"/v1/tasks/{running_id}").json()
        assert done["status"] == "completed"
        assert done["progress"] == 100
        assert set(done["result"]) >= {"video_url", "expires_at", "duration", "width", "height"}
        assert done["usage"]["output_video_duration"] == 5
        video = client.get(done["result"]["video_url"])
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        listed = client.get("/v1/tasks", params={"status": "completed"}).json()
        assert [t["task_id"] for t in listed["data"]] == [running_id]
        assert client.get("/v1/tasks/unknown").status_code == 404


def test_native_sync_waits_or_hands_back_a_poll_url() -> None:
    with serving("native", timing=Timing(queue_seconds=0.0, render_seconds=0.05)) as (_, client):
        finished = client.post("/v1/tasks/sync", json={**FLAT, "timeout": 5})
        assert finished.status_code == 200
        assert finished.json()["status"] == "completed"
    with serving("native", timing=slow()) as (fake, client):
        pending = client.post("/v1/tasks/sync", json={**FLAT, "timeout": 0.05})
        bad = client.post("/v1/tasks/sync", json={**FLAT, "timeout": 999})
    assert pending.status_code == 202
    body = pending.json()
    assert list(body) == ["task_id", "status", "poll_url"]
    assert body["poll_url"] == f"{fake.url}/v1/tasks/{body['task_id']}"
    assert pending.headers["location"] == body["poll_url"]
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "timeout"


def test_native_long_poll_returns_when_the_status_changes() -> None:
    with serving("native", timing=Timing(queue_seconds=0.2, render_seconds=30)) as (_, client):
        task_id = client.post("/v1/tasks", json=FLAT).json()["task_id"]
        started = time.monotonic()
        body = client.get(f"/v1/tasks/{task_id}", params={"wait": 10}).json()
    assert body["status"] == "processing"
    assert time.monotonic() - started < 5


def test_kik_create_and_query_as_seed_003_shows() -> None:
    clock = ManualClock()
    with serving("kik", timing=slow(), clock=clock) as (_, client):
        created = client.post("/video/v1/tasks", json=FLAT)
        assert created.status_code == 200
        assert list(created.json()) == ["task_id"]
        task_id = created.json()["task_id"]
        path = f"/video/v1/tasks/{task_id}"
        pending = client.get(path).json()
        same_shape(pending, KIK_RUNNING)
        assert pending["task_status"] == "pending"
        clock.advance(15)
        running = client.get(path).json()
        same_shape(running, KIK_RUNNING)
        assert running["task_status"] == "running"
        assert running["updated"] > running["created"]
        clock.advance(60)
        success = client.get(path).json()
        same_shape(success, KIK_SUCCESS)
        assert success["task_status"] == "success"
        assert success["completed"] == success["updated"]
        assert list(success["data"][0]) == ["url"]
        assert client.get(success["data"][0]["url"]).status_code == 200


def test_kik_failures_and_cancellation() -> None:
    with serving("kik", timing=fast()) as (fake, client):
        fake.faults.fail_tasks()
        failed_id = client.post("/video/v1/tasks", json=FLAT).json()["task_id"]
        failed = client.get(f"/video/v1/tasks/{failed_id}").json()
        fake.faults.task_failure = None
        fake.timing.queue_seconds = 60
        queued_id = client.post("/video/v1/tasks", json=FLAT).json()["task_id"]
        cancelled = client.post(f"/video/v1/tasks/{queued_id}/cancel").json()
        again = client.post(f"/video/v1/tasks/{queued_id}/cancel")
    same_shape(failed, KIK_FAILED)
    assert failed["error"] == KIK_FAILED["error"]
    assert cancelled["task_status"] == "cancelled"
    assert cancelled["error"]["code"] == "cancelled"
    assert again.status_code == 409


def test_nebula_statuses_as_seed_004_shows() -> None:
    clock = ManualClock()
    with serving("nebula", timing=slow(), clock=clock) as (fake, client):
        created = client.post("/v1/video/generations", json={**FLAT, "model": "veo3"})
        same_shape(created.json(), NEBULA_QUEUED)
        task_id = created.json()["task_id"]
        assert task_id.startswith("video_")
        path = f"/v1/video/generations/{task_id}"
        assert client.get(path).json() == {**NEBULA_QUEUED, "task_id": task_id}
        clock.advance(15)
        assert client.get(path).json()["status"] == "in_progress"
        clock.advance(60)
        done = client.get(path).json()
        assert list(done) == ["task_id", "status", "format", "url"]
        assert done["status"] == "succeeded"
        assert client.get(done["url"]).status_code == 200

        fake.faults.fail_tasks()
        failed_id = client.post("/v1/video/generations", json=FLAT).json()["task_id"]
        clock.advance(80)
        failed = client.get(f"/v1/video/generations/{failed_id}").json()
    assert failed == {**NEBULA_FAILED, "task_id": failed_id}


def test_nebula_sora_results_need_the_download_call() -> None:
    with serving("nebula", timing=fast()) as (_, client):
        task_id = client.post("/v1/video/generations", json={**FLAT, "model": "sora-2"}).json()[
            "task_id"
        ]
        done = client.get(f"/v1/video/generations/{task_id}").json()
        video = client.get(f"/v1/video/generations/{task_id}/content")
    assert done == {"task_id": task_id, "status": "succeeded", "format": "mp4"}
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("dialect", "path", "field"),
    [
        ("native", "/v1/tasks/{id}", "status"),
        ("kik", "/video/v1/tasks/{id}", "task_status"),
        ("nebula", "/v1/video/generations/{id}", "status"),
    ],
)
def test_relays_answer_undocumented_words_when_told(dialect: str, path: str, field: str) -> None:
    create = {"native": "/v1/tasks", "kik": "/video/v1/tasks", "nebula": "/v1/video/generations"}
    with serving(dialect, timing=fast()) as (fake, client):  # type: ignore[arg-type]
        task_id = client.post(create[dialect], json=FLAT).json()["task_id"]
        fake.faults.emit_unknown("weird")
        first = client.get(path.format(id=task_id)).json()[field]
        second = client.get(path.format(id=task_id)).json()[field]
    assert first == "weird"
    assert second != "weird"
