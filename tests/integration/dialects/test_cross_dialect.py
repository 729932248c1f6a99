"""One task is one task: made in any dialect, read, cancelled and downloaded through any other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from conftest import RunningGateway, png_bytes, wait_terminal

ASYNC = {"X-DashScope-Async": "enable"}
SYNTHESIS = "/api/v1/services/aigc/video-generation/video-synthesis"
FLAT: dict[str, Any] = {"prompt": "a red kite", "duration": 2, "resolution": "480P"}
DASHSCOPE_BODY: dict[str, Any] = {
    "model": "wan2.6-t2v",
    "input": {"prompt": "a red kite"},
    "parameters": {"duration": 2, "resolution": "480P"},
}
OPENAI_BODY: dict[str, Any] = {
    "model": "wan2.6-t2v",
    "prompt": "a red kite",
    "seconds": "2",
    "size": "832x480",
}


def create(api: httpx.Client, dialect: str, headers: dict[str, str] | None = None) -> str:
    """A task created in one dialect; its id."""
    headers = headers or {}
    if dialect == "dashscope":
        answer = api.post(SYNTHESIS, json=DASHSCOPE_BODY, headers={**ASYNC, **headers})
        return str(answer.json()["output"]["task_id"])
    if dialect == "openai":
        return str(api.post("/v1/videos", json=OPENAI_BODY, headers=headers).json()["id"])
    path = {"kik": "/video/v1/tasks", "nebula": "/v1/video/generations", "native": "/v1/tasks"}
    return str(api.post(path[dialect], json=FLAT, headers=headers).json()["task_id"])


def statuses(api: httpx.Client, task_id: str) -> dict[str, Any]:
    """The task's status word in each dialect."""
    return {
        "native": api.get(f"/v1/tasks/{task_id}").json()["status"],
        "dashscope": api.get(f"/api/v1/tasks/{task_id}").json()["output"]["task_status"],
        "kik": api.get(f"/video/v1/tasks/{task_id}").json()["task_status"],
        "nebula": api.get(f"/v1/video/generations/{task_id}").json()["status"],
        "openai": api.get(f"/v1/videos/{task_id}").json()["status"],
    }


@pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")
def test_a_finished_task_reads_and_downloads_alike_everywhere(
    gateway: RunningGateway, api: httpx.Client, key: str
) -> None:
    task_id = create(api, "dashscope")
    wait_terminal(api, task_id)
    assert statuses(api, task_id) == {
        "native": "completed",
        "dashscope": "SUCCEEDED",
        "kik": "success",
        "nebula": "succeeded",
        "openai": "completed",
    }
    urls = [
        api.get(f"/v1/tasks/{task_id}").json()["result"]["video_url"],
        api.get(f"/api/v1/tasks/{task_id}").json()["output"]["video_url"],
        api.get(f"/video/v1/tasks/{task_id}").json()["data"][0]["url"],
        api.get(f"/v1/video/generations/{task_id}").json()["url"],
    ]
    video = httpx.get(urls[0]).content
    assert all(httpx.get(url).content == video for url in urls[1:])
    assert api.get(f"/v1/video/generations/{task_id}/content").content == video
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key) as client:
        assert client.videos.download_content(task_id).content == video
        assert client.videos.retrieve(task_id).seconds == "2"


Cancel = Callable[[httpx.Client, str], httpx.Response]
CANCELS: dict[str, Cancel] = {
    "native": lambda api, task_id: api.post(f"/v1/tasks/{task_id}/cancel"),
    "dashscope": lambda api, task_id: api.post(f"/api/v1/tasks/{task_id}/cancel"),
    "kik": lambda api, task_id: api.post(f"/video/v1/tasks/{task_id}/cancel"),
    "openai": lambda api, task_id: api.delete(f"/v1/videos/{task_id}"),
}
CANCELLED = {
    "native": "cancelled",
    "dashscope": "CANCELED",
    "kik": "cancelled",
    "nebula": "failed",
    "openai": "failed",
}


def test_a_task_cancelled_in_one_dialect_is_cancelled_in_all(gateway_factory: Any) -> None:
    idle = gateway_factory(run_engine=False)
    with idle.client(idle.make_key()) as api:
        for maker, canceller in [
            ("openai", "kik"),
            ("kik", "dashscope"),
            ("nebula", "openai"),
            ("dashscope", "native"),
            ("native", "openai"),
        ]:
            task_id = create(api, maker)
            assert CANCELS[canceller](api, task_id).status_code == 200, (maker, canceller)
            assert statuses(api, task_id) == CANCELLED, (maker, canceller)
            assert api.get(f"/v1/videos/{task_id}").json()["error"]["code"] == "cancelled"
            assert api.get(f"/video/v1/tasks/{task_id}").json()["error"]["code"] == "cancelled"


def test_every_create_route_honours_idempotency_key(gateway_factory: Any) -> None:
    idle = gateway_factory(run_engine=False)
    with idle.client(idle.make_key()) as api:
        for dialect in ("native", "dashscope", "kik", "nebula", "openai"):
            headers = {"Idempotency-Key": f"retry-{dialect}"}
            first = create(api, dialect, headers)
            assert create(api, dialect, headers) == first, dialect
        assert len(api.get("/v1/tasks").json()["data"]) == 5

        changed = {"Idempotency-Key": "retry-dashscope", **ASYNC}
        body = {**DASHSCOPE_BODY, "input": {"prompt": "another"}}
        reused = api.post(SYNTHESIS, json=body, headers=changed)
        assert reused.status_code == 409 and reused.json()["code"] == "Conflict"
        reused = api.post(
            "/v1/videos",
            json={**OPENAI_BODY, "prompt": "x"},
            headers={"Idempotency-Key": "retry-openai"},
        )
        assert reused.status_code == 409
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        for path, dialect in (("/video/v1/tasks", "kik"), ("/v1/video/generations", "nebula")):
            reused = api.post(
                path, json={**FLAT, "prompt": "x"}, headers={"Idempotency-Key": f"retry-{dialect}"}
            )
            assert reused.status_code == 409
            assert reused.json()["error"] == {
                "code": "idempotency_key_reused",
                "message": "This Idempotency-Key was already used with a different request body.",
            }

        form = {"prompt": "from a file", "model": "sora-2"}
        upload = {"input_reference": ("cat.png", png_bytes(), "image/png")}
        once = api.post("/v1/videos", data=form, files=upload, headers={"Idempotency-Key": "file"})
        twice = api.post("/v1/videos", data=form, files=upload, headers={"Idempotency-Key": "file"})
        assert once.status_code == 200, once.text
        assert once.json()["id"] == twice.json()["id"]
        other = {"input_reference": ("blue.png", png_bytes((0, 0, 255)), "image/png")}
        changed_file = api.post(
            "/v1/videos", data=form, files=other, headers={"Idempotency-Key": "file"}
        )
        assert changed_file.status_code == 409


DASHSCOPE_ERROR = {"code", "message", "request_id"}
OPENAI_ERROR = {"message", "type", "param", "code"}
RELAY_ERROR = {"code", "message"}
ROUTES: list[tuple[str, str, set[str]]] = [
    ("POST", SYNTHESIS, DASHSCOPE_ERROR),
    ("POST", "/api/v1/services/aigc/image2video/video-synthesis", DASHSCOPE_ERROR),
    ("GET", "/api/v1/tasks/{id}", DASHSCOPE_ERROR),
    ("POST", "/api/v1/tasks/{id}/cancel", DASHSCOPE_ERROR),
    ("GET", "/api/v1/tasks", DASHSCOPE_ERROR),
    ("POST", "/video/v1/tasks", RELAY_ERROR),
    ("GET", "/video/v1/tasks/{id}", RELAY_ERROR),
    ("POST", "/video/v1/tasks/{id}/cancel", RELAY_ERROR),
    ("POST", "/v1/video/generations", RELAY_ERROR),
    ("GET", "/v1/video/generations/{id}", RELAY_ERROR),
    ("GET", "/v1/video/generations/{id}/content", RELAY_ERROR),
    ("POST", "/v1/videos", OPENAI_ERROR),
    ("GET", "/v1/videos", OPENAI_ERROR),
    ("GET", "/v1/videos/{id}", OPENAI_ERROR),
    ("GET", "/v1/videos/{id}/content", OPENAI_ERROR),
    ("DELETE", "/v1/videos/{id}", OPENAI_ERROR),
]


def error_of(response: httpx.Response, shape: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    found: dict[str, Any] = body if shape is DASHSCOPE_ERROR else body["error"]
    assert set(found) == shape, body
    return found


def test_every_route_needs_the_owners_key(gateway_factory: Any) -> None:
    idle = gateway_factory(run_engine=False)
    owner, other = idle.make_key("owner"), idle.make_key("other")
    with idle.client(owner) as api:
        task_id = create(api, "native")
    with httpx.Client(base_url=idle.url) as anonymous, idle.client(other) as stranger:
        for method, template, shape in ROUTES:
            path = template.format(id=task_id)
            missing = anonymous.request(method, path)
            assert missing.status_code == 401, path
            assert error_of(missing, shape)["code"] in ("invalid_api_key", "InvalidApiKey"), path
            wrong = anonymous.request(method, path, headers={"Authorization": "Bearer vg-nope"})
            assert wrong.status_code == 401, path
            if "{id}" not in template:
                continue
            foreign = stranger.request(method, path)
            if template == "/api/v1/tasks/{id}":
                assert foreign.json()["output"] == {"task_id": task_id, "task_status": "UNKNOWN"}
                continue
            assert foreign.status_code == 404, path
            error_of(foreign, shape)
