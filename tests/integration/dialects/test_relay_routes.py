"""The kik (seed 003) and nebula (seed 004) relay dialects, answered as those relays answer."""

from __future__ import annotations

import time
from typing import Any

import httpx

from conftest import RunningGateway

SMALL: dict[str, Any] = {"prompt": "a lighthouse", "duration": 2, "resolution": "480P"}


def poll(api: httpx.Client, path: str, done: set[str], field: str) -> list[dict[str, Any]]:
    """Every answer of a relay's task query until its status is one of `done`."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen.append(api.get(path).json())
        if seen[-1][field] in done:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"{path} did not finish: {seen[-1]}")


def test_kik_create_poll_and_download(gateway: RunningGateway, api: httpx.Client) -> None:
    created = api.post("/video/v1/tasks", json={**SMALL, "model": "wan2.6-t2v"})
    assert created.status_code == 200
    assert set(created.json()) == {"task_id"}
    task_id = created.json()["task_id"]

    seen = poll(
        api, f"/video/v1/tasks/{task_id}", {"success", "failed", "cancelled"}, "task_status"
    )
    statuses = [s["task_status"] for s in seen]
    assert statuses[-1] == "success" and set(statuses) <= {"pending", "running", "success"}
    early, done = seen[0], seen[-1]
    assert early["completed"] is None and early["data"] == [] and early["error"] is None
    assert set(done) == {
        "task_id",
        "task_status",
        "model",
        "created",
        "updated",
        "completed",
        "data",
        "error",
    }
    assert done["model"] == "wan2.6-t2v"
    assert all(isinstance(done[k], int) for k in ("created", "updated", "completed"))
    assert done["created"] <= done["completed"] and abs(done["created"] / 1000 - time.time()) < 60
    assert httpx.get(done["data"][0]["url"]).headers["content-type"] == "video/mp4"


def test_kik_cancel_and_errors(gateway_factory: Any) -> None:
    idle = gateway_factory(run_engine=False)
    with idle.client(idle.make_key()) as api:
        task_id = api.post("/video/v1/tasks", json=SMALL).json()["task_id"]
        cancelled = api.post(f"/video/v1/tasks/{task_id}/cancel")
        assert cancelled.status_code == 200
        body = cancelled.json()
        assert body["task_status"] == "cancelled" and isinstance(body["completed"], int)
        assert body["error"] == {"code": "cancelled", "message": "Cancelled by the client."}
        again = api.post(f"/video/v1/tasks/{task_id}/cancel")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "task_not_cancellable"

        bad = api.post("/video/v1/tasks", json={**SMALL, "duration": "long"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_request"
        assert bad.json()["error"]["message"].startswith("duration")
        with idle.client(idle.make_key("other")) as other:
            hidden = other.get(f"/video/v1/tasks/{task_id}")
            assert hidden.status_code == 404
            assert set(hidden.json()["error"]) == {"code", "message"}
            assert other.post(f"/video/v1/tasks/{task_id}/cancel").status_code == 404
    unauthorized = httpx.get(f"{idle.url}/video/v1/tasks/{task_id}")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == "invalid_api_key"


def test_nebula_create_poll_and_download(gateway: RunningGateway, api: httpx.Client) -> None:
    created = api.post("/v1/video/generations", json=SMALL)
    assert created.status_code == 200
    body = created.json()
    assert (body["status"], body["format"]) == ("queued", "mp4")
    task_id = body["task_id"]
    early = api.get(f"/v1/video/generations/{task_id}/content")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "video_not_ready"

    seen = poll(api, f"/v1/video/generations/{task_id}", {"succeeded", "failed"}, "status")
    assert {s["status"] for s in seen} <= {"queued", "in_progress", "succeeded"}
    done = seen[-1]
    assert set(done) == {"task_id", "status", "format", "url"}
    content = api.get(f"/v1/video/generations/{task_id}/content")
    assert content.headers["content-type"] == "video/mp4"
    assert content.content == httpx.get(done["url"]).content
    part = api.get(f"/v1/video/generations/{task_id}/content", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100


def test_nebula_reads_cancelled_as_failed_and_errors(gateway_factory: Any) -> None:
    idle = gateway_factory(run_engine=False)
    with idle.client(idle.make_key()) as api:
        task_id = api.post("/v1/video/generations", json=SMALL).json()["task_id"]
        api.post(f"/v1/tasks/{task_id}/cancel").raise_for_status()
        failed = api.get(f"/v1/video/generations/{task_id}").json()
        assert failed == {
            "task_id": task_id,
            "status": "failed",
            "format": "mp4",
            "error": {"code": "cancelled", "message": "Cancelled by the client."},
        }
        unknown_field = api.post("/v1/video/generations", json={**SMALL, "colour": "red"})
        assert unknown_field.status_code == 400
        assert unknown_field.json()["error"]["message"].startswith("colour")
        assert api.get("/v1/video/generations/nope").json()["error"]["code"] == "not_found"
    unauthorized = httpx.post(f"{idle.url}/v1/video/generations", json=SMALL)
    assert unauthorized.status_code == 401
    assert set(unauthorized.json()["error"]) == {"code", "message"}
