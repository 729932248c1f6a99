"""The DashScope fake answers exactly as seeds 000/001 and the API reference describe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_clients import KEY, fast, serving, slow

from vidgate.testing import FakeUpstream, ManualClock

SYNTHESIS = "/services/aigc/video-generation/video-synthesis"
IMAGE2VIDEO = "/services/aigc/image2video/video-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
SEED_PROMPT = (
    "Video 2 holds Image 3 and plays a soothing American country ballad in a coffee shop, "
    "while Video 1 smiles, watches Video 2, and slowly walks towards him"
)
SEED_001: dict[str, Any] = {
    "request_id": "52cade0d-905e-9b7d-a01e-xxxxxx",
    "output": {
        "task_id": "18814247-f944-4102-aa4a-xxxxxx",
        "task_status": "SUCCEEDED",
        "submit_time": "2026-04-02 22:53:19.537",
        "scheduled_time": "2026-04-02 22:53:30.427",
        "end_time": "2026-04-02 23:00:39.287",
        "orig_prompt": SEED_PROMPT,
        "video_url": "https://dashscope-a717.oss-accelerate.aliyuncs.com/xxx.mp4?xxxx",
    },
    "usage": {
        "duration": 15,
        "input_video_duration": 5,
        "output_video_duration": 10,
        "video_count": 1,
        "SR": 720,
        "ratio": "16:9",
    },
}
SEED_REQUEST = {
    "model": "wan2.7-r2v",
    "input": {
        "prompt": SEED_PROMPT,
        "reference_urls": ["https://example.com/video1.mp4", "https://example.com/image3.png"],
    },
    "parameters": {"size": "1280*720", "duration": 10},
}
T2V = {"model": "wan2.6-t2v", "input": {"prompt": "A cat running across a meadow"}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def dashscope(clock: ManualClock) -> Iterator[tuple[FakeUpstream, httpx.Client]]:
    with serving("dashscope", timing=slow(), clock=clock) as pair:
        yield pair


def submit(client: httpx.Client, body: dict[str, Any] = T2V, path: str = SYNTHESIS) -> str:
    response = client.post(path, json=body, headers=ASYNC)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["output"]["task_id"]
    return task_id


def test_submit_answers_pending_with_a_request_id(
    dashscope: tuple[FakeUpstream, httpx.Client],
) -> None:
    fake, client = dashscope
    response = client.post(SYNTHESIS, json=T2V, headers=ASYNC)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["request_id", "output"]
    assert list(body["output"]) == ["task_id", "task_status"]
    assert body["output"]["task_status"] == "PENDING"
    task = fake.tasks[body["output"]["task_id"]]
    assert task.body == T2V
    assert task.request_id == body["request_id"]


def test_a_task_walks_pending_running_succeeded_as_seed_001_shows(
    dashscope: tuple[FakeUpstream, httpx.Client], clock: ManualClock
) -> None:
    _, client = dashscope
    task_id = submit(client, SEED_REQUEST)

    pending = client.get(f"/tasks/{task_id}").json()["output"]
    assert pending["task_status"] == "PENDING"
    assert TIME.match(pending["submit_time"])
    assert not {"scheduled_time", "end_time", "video_url"} & set(pending)

    clock.advance(11)
    running = client.get(f"/tasks/{task_id}").json()
    assert running["output"]["task_status"] == "RUNNING"
    assert TIME.match(running["output"]["scheduled_time"])
    assert "end_time" not in running["output"]
    assert "usage" not in running

    clock.advance(60)
    done = client.get(f"/tasks/{task_id}").json()
    assert list(done) == list(SEED_001)
    seed_output: dict[str, Any] = SEED_001["output"]
    output = done["output"]
    assert [k for k in output if k in seed_output] == list(seed_output)
    assert set(output) - set(seed_output) <= {"task_metrics"}
    for name, example in seed_output.items():
        assert type(output[name]) is type(example), name
    for name in ("submit_time", "scheduled_time", "end_time"):
        assert TIME.match(output[name]), name
    assert output["task_id"] == task_id
    assert output["orig_prompt"] == SEED_PROMPT
    assert done["usage"] == SEED_001["usage"]
    for name, example in SEED_001["usage"].items():
        assert type(done["usage"][name]) is type(example), name
    video = client.get(output["video_url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


def test_submit_without_the_async_header_is_refused(
    dashscope: tuple[FakeUpstream, httpx.Client],
) -> None:
    fake, client = dashscope
    response = client.post(SYNTHESIS, json=T2V)
    assert response.status_code == 403
    body = response.json()
    assert list(body) == ["code", "message", "request_id"]
    assert body["code"] == "AccessDenied"
    assert body["message"] == "current user api does not support synchronous calls"
    assert fake.tasks == {}


def test_keys_are_checked_as_dashscope_does() -> None:
    with serving("dashscope", key=None, keys=["good"]) as (_, client):
        missing = client.get("/tasks/abc")
        wrong = client.get("/tasks/abc", headers={"Authorization": "Bearer bad"})
        right = client.get("/tasks/abc", headers={"Authorization": "Bearer good"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["code"] == wrong.json()["code"] == "InvalidApiKey"
    assert missing.json()["message"] == "No API-key provided."
    assert wrong.json()["message"] == "Invalid API-key provided."
    assert right.status_code == 200


def test_unknown_and_other_keys_tasks_read_unknown(
    dashscope: tuple[FakeUpstream, httpx.Client],
) -> None:
    _, client = dashscope
    task_id = submit(client)
    for answer in (
        client.get("/tasks/no-such-task"),
        client.get(f"/tasks/{task_id}", headers={"Authorization": "Bearer someone-else"}),
    ):
        assert answer.status_code == 200
        body = answer.json()
        assert list(body) == ["request_id", "output"]
        assert body["output"]["task_status"] == "UNKNOWN"


def test_kf2v_posts_to_image2video(dashscope: tuple[FakeUpstream, httpx.Client]) -> None:
    fake, client = dashscope
    body = {
        "model": "wan2.2-kf2v-flash",
        "input": {"prompt": "bloom", "first_frame_url": "https://example.com/a.png"},
        "parameters": {"resolution": "480P"},
    }
    task_id = submit(client, body, IMAGE2VIDEO)
    assert fake.tasks[task_id].width == 832
    assert fake.counters.calls("POST /api/v1" + IMAGE2VIDEO) == 1
    assert fake.counters.calls("POST /api/v1" + SYNTHESIS) == 0


def test_only_pending_tasks_can_be_cancelled(
    dashscope: tuple[FakeUpstream, httpx.Client], clock: ManualClock
) -> None:
    _, client = dashscope
    pending, running = submit(client), submit(client)
    cancelled = client.post(f"/tasks/{pending}/cancel")
    assert cancelled.status_code == 200
    assert list(cancelled.json()) == ["request_id"]
    body = client.get(f"/tasks/{pending}").json()["output"]
    assert body["task_status"] == "CANCELED"
    assert "scheduled_time" not in body

    clock.advance(11)
    refused = client.post(f"/tasks/{running}/cancel")
    assert refused.status_code == 400
    assert refused.json()["code"] == "UnsupportedOperation"
    assert client.get(f"/tasks/{running}").json()["output"]["task_status"] == "RUNNING"
    assert client.post("/tasks/no-such-task/cancel").status_code == 404


def test_list_filters_and_pages(
    dashscope: tuple[FakeUpstream, httpx.Client], clock: ManualClock
) -> None:
    _, client = dashscope
    ids = [submit(client) for _ in range(3)]
    submit(client, {**T2V, "model": "wan2.5-t2v-preview"})
    client.post(f"/tasks/{ids[0]}/cancel")
    page = client.get("/tasks", params={"page_size": 2, "model_name": "wan2.6-t2v"}).json()
    assert (page["total"], page["total_page"], page["page_no"], page["page_size"]) == (3, 2, 1, 2)
    assert [item["task_id"] for item in page["data"]] == ids[::-1][:2]
    assert {"task_id", "status", "model_name", "gmt_create"} <= set(page["data"][0])
    canceled = client.get("/tasks", params={"status": "CANCELED"}).json()
    assert [item["task_id"] for item in canceled["data"]] == [ids[0]]
    too_wide = client.get(
        "/tasks", params={"start_time": "20250101000000", "end_time": "20250103000000"}
    )
    assert too_wide.status_code == 400
    assert too_wide.json()["code"] == "InvalidParameter"


@pytest.mark.parametrize(
    "code",
    ["InvalidParameter", "DataInspectionFailed", "IPInfringementSuspect", "InternalServerError"],
)
def test_tasks_fail_with_each_documented_code(code: str) -> None:
    with serving("dashscope", timing=fast()) as (fake, client):
        fake.faults.fail_tasks(code)
        task_id = submit(client)
        data = client.get(f"/tasks/{task_id}").json()
    output = data["output"]
    assert output["task_status"] == "FAILED"
    assert output["code"] == code
    assert output["message"]
    assert "video_url" not in output
    assert "usage" not in data


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling.RateQuota", 429),
        ("Throttling.AllocationQuota", 429),
        ("InternalServerError", 500),
        ("InvalidParameter", 400),
        ("DataInspectionFailed", 400),
        ("Arrearage", 403),
        ("ModelNotFound", 404),
    ],
)
def test_submits_fail_with_each_documented_code(code: str, status: int) -> None:
    with serving("dashscope", timing=fast()) as (fake, client):
        fake.faults.fail_submits(code, count=1, retry_after=2)
        refused = client.post(SYNTHESIS, json=T2V, headers=ASYNC)
        accepted = client.post(SYNTHESIS, json=T2V, headers=ASYNC)
    assert refused.status_code == status
    assert refused.json()["code"] == code
    assert refused.json()["request_id"]
    assert refused.headers["retry-after"] == "2"
    assert accepted.status_code == 200
    assert len(fake.tasks) == 1


@pytest.mark.parametrize("word", ["UNKNOWN", "SUSPENDED"])
def test_undocumented_statuses_for_a_few_polls(word: str) -> None:
    with serving("dashscope", timing=fast()) as (fake, client):
        task_id = submit(client)
        fake.faults.emit_unknown(word, polls=2)
        seen = [client.get(f"/tasks/{task_id}").json()["output"]["task_status"] for _ in range(3)]
    assert seen == [word, word, "SUCCEEDED"]


def test_the_official_sdk_submits_waits_cancels_and_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dashscope_sdk = pytest.importorskip("dashscope")
    from dashscope import VideoSynthesis

    with serving("dashscope", timing=fast()) as (fake, _):
        monkeypatch.setattr(dashscope_sdk, "base_http_api_url", fake.base_url)
        try:
            created = VideoSynthesis.async_call(
                model="wan2.6-t2v", prompt="A cat", size="832*480", duration=5, api_key=KEY
            )
            assert created.status_code == 200, created
            done = VideoSynthesis.wait(created, api_key=KEY)
            assert done.output.task_status == "SUCCEEDED"
            assert done.usage.output_video_duration == 5
            assert httpx.get(done.output.video_url).status_code == 200
            fake.timing.queue_seconds = 60
            queued = VideoSynthesis.async_call(model="wan2.6-t2v", prompt="B", api_key=KEY)
            cancelled = VideoSynthesis.cancel(queued, api_key=KEY)
            assert cancelled.status_code == 200
            fetched = VideoSynthesis.fetch(queued, api_key=KEY)
            assert fetched.output.task_status == "CANCELED"
        finally:
            dashscope_sdk.close_shared_sync_session()
    assert fake.counters.calls("submit") == 2


def test_models_are_required_and_checked() -> None:
    with serving("dashscope", models=["wan2.6-t2v"]) as (_, client):
        missing = client.post(SYNTHESIS, json={"input": {"prompt": "x"}}, headers=ASYNC)
        unknown = client.post(SYNTHESIS, json={**T2V, "model": "wan9"}, headers=ASYNC)
        unknown_field = client.post(SYNTHESIS, json={**T2V, "extra": 1}, headers=ASYNC)
    assert (missing.status_code, missing.json()["code"]) == (400, "InvalidParameter")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "ModelNotFound")
    assert (unknown_field.status_code, unknown_field.json()["code"]) == (400, "InvalidParameter")
