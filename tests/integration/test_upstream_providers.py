"""The gateway in front of fake upstreams: every dialect, failover, faults and re-hosting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, wait_terminal
from vidgate.testing import FakeUpstream, SubmitFailure, Timing

Fakes = Callable[..., FakeUpstream]
Fronted = Callable[..., RunningGateway]
SMALL = {"prompt": "a lighthouse", "duration": 2, "resolution": "480P"}


def run_task(gateway: RunningGateway, body: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    with gateway.client(gateway.make_key("u", quota=100)) as api:
        created = api.post("/v1/tasks", json=body)
        assert created.status_code == 202, created.text
        task = wait_terminal(api, created.json()["task_id"], timeout)
        task["_account"] = api.get("/v1/account").json()
        return task


def assert_rehosted(gateway: RunningGateway, task: dict[str, Any], fake: FakeUpstream) -> None:
    result = task["result"]
    assert result["video_url"].startswith(gateway.url)
    if result.get("source_url"):
        assert result["source_url"].startswith(fake.url)
    video = httpx.get(result["video_url"])
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"
    assert result["width"] > 0 and result["fps"] > 0


@pytest.mark.parametrize("dialect", ["dashscope", "openai", "native", "kik", "nebula"])
def test_each_upstream_dialect_completes_and_is_rehosted(
    fakes: Fakes, fronted: Fronted, dialect: str
) -> None:
    fake = fakes(dialect)
    model = "sora-2" if dialect == "openai" else "wan2.6-t2v"
    gateway = fronted({"up": (fake, {})}, {model: ["up"]})
    body = {"prompt": "a lighthouse", "model": model, "duration": 4 if model == "sora-2" else 2}
    task = run_task(gateway, body)
    assert task["status"] == "completed", task
    assert task["provider"] == "up"
    assert_rehosted(gateway, task, fake)
    assert fake.counters.calls("submit") == 1
    assert 1 <= fake.counters.calls("query") <= 30
    account = task["_account"]
    assert account["reserved"] == 0 and account["used"] == task["usage"]["duration"]


def test_dashscope_modes_use_their_endpoints_and_usage_is_carried(
    fakes: Fakes, fronted: Fronted
) -> None:
    fake = fakes("dashscope")
    gateway = fronted({"ds": (fake, {})}, {"default": ["ds"]})
    image = (
        "data:image/png;base64,"
        + __import__("base64").b64encode(__import__("conftest").png_bytes()).decode()
    )
    kf2v = run_task(gateway, {"prompt": "morph", "first_frame_url": image})
    assert kf2v["status"] == "completed", kf2v
    assert fake.counters.calls("POST /api/v1/services/aigc/image2video/video-synthesis") == 1
    t2v = run_task(gateway, SMALL)
    assert t2v["status"] == "completed"
    assert fake.counters.calls("POST /api/v1/services/aigc/video-generation/video-synthesis") == 1
    assert t2v["usage"]["output_video_duration"] == 2
    assert t2v["usage"]["SR"] == 480


@pytest.mark.parametrize(
    "fault",
    [
        {"error_rate": 0.4, "seed": 3},
        {"throttled": 3, "retry_after": 0.2},
        {"malformed_rate": 0.4, "seed": 5},
        {"unknown_status": "SUSPENDED", "unknown_polls": 3},
        {"delay": 0.3},
    ],
    ids=["5xx", "429-burst", "malformed", "unknown-status", "slow"],
)
def test_transient_faults_never_fail_a_task(
    fakes: Fakes, fronted: Fronted, fault: dict[str, Any]
) -> None:
    fake = fakes("dashscope")
    for name, value in fault.items():
        setattr(fake.faults, name, value)
    gateway = fronted({"ds": (fake, {})}, {"default": ["ds"]})
    task = run_task(gateway, SMALL, timeout=60)
    assert task["status"] == "completed", task
    assert_rehosted(gateway, task, fake)


def test_hanging_upstream_is_timed_out_and_retried(fakes: Fakes, fronted: Fronted) -> None:
    fake = fakes("dashscope")
    gateway = fronted({"ds": (fake, {"timeout": 0.5})}, {"default": ["ds"]})
    with gateway.client(gateway.make_key()) as api:
        task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        while api.get(f"/v1/tasks/{task_id}").json().get("status") == "queued":
            time.sleep(0.05)
        fake.faults.hang = True
        time.sleep(1.5)
        assert api.get(f"/v1/tasks/{task_id}").json()["status"] == "processing"
        fake.faults.hang = False
        assert wait_terminal(api, task_id)["status"] == "completed"


@pytest.mark.parametrize(
    "code", ["DataInspectionFailed", "InvalidParameter", "InternalServerError"]
)
def test_upstream_task_failures_keep_code_and_message_and_refund(
    fakes: Fakes, fronted: Fronted, code: str
) -> None:
    fake = fakes("dashscope")
    fake.faults.fail_tasks(code, f"upstream says {code}")
    gateway = fronted({"ds": (fake, {})}, {"default": ["ds"]})
    task = run_task(gateway, SMALL)
    assert task["status"] == "failed"
    assert task["error"] == {"code": code, "message": f"upstream says {code}"}
    assert task["_account"]["reserved"] == 0 and task["_account"]["used"] == 0


def test_invalid_parameter_at_submit_fails_without_failover(fakes: Fakes, fronted: Fronted) -> None:
    first, second = fakes("dashscope"), fakes("dashscope")
    first.faults.fail_submits("InvalidParameter", status=400, message="size is wrong")
    patient = {"timeout": 30}  # a slow answer on a loaded machine must not read as a timeout
    gateway = fronted({"a": (first, patient), "b": (second, patient)}, {"default": ["a", "b"]})
    task = run_task(gateway, SMALL)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "InvalidParameter"
    assert second.counters.calls("submit") == 0


@pytest.mark.parametrize(
    "failure",
    [
        SubmitFailure("Throttling.RateQuota", status=429, retry_after=0.1),
        SubmitFailure("InternalServerError", status=500),
        SubmitFailure("Arrearage", status=403),
    ],
    ids=["429", "500", "403"],
)
def test_capacity_errors_fail_over_to_the_next_route(
    fakes: Fakes, fronted: Fronted, failure: SubmitFailure
) -> None:
    first, second = fakes("dashscope"), fakes("kik")
    first.faults.submit_failure = failure
    gateway = fronted({"a": (first, {}), "b": (second, {})}, {"default": ["a", "b"]})
    task = run_task(gateway, SMALL)
    assert task["status"] == "completed", task
    assert task["provider"] == "b"
    assert first.counters.calls("submit") >= 1 and second.counters.calls("submit") == 1
    assert second.counters.calls("query") >= 1 and first.counters.calls("query") == 0


def test_tasks_are_polled_with_the_credential_that_submitted_them(
    fakes: Fakes, fronted: Fronted
) -> None:
    fake = fakes("dashscope", keys=["sk-one", "sk-two"], match_request=False)
    gateway = fronted(
        {"ds": (fake, {"api_key": None, "api_keys": ["sk-one", "sk-two"]})}, {"default": ["ds"]}
    )
    with gateway.client(gateway.make_key()) as api:
        ids = [api.post("/v1/tasks", json=SMALL).json()["task_id"] for _ in range(4)]
        finals = [wait_terminal(api, task_id) for task_id in ids]
    assert [f["status"] for f in finals] == ["completed"] * 4
    owners = {task.owner for task in fake.tasks.values()}
    assert owners == {"sk-one", "sk-two"}


def test_expired_result_urls_fail_with_result_unavailable(fakes: Fakes, fronted: Fronted) -> None:
    fake = fakes("dashscope")
    fake.faults.expired_results = True
    gateway = fronted({"ds": (fake, {})}, {"default": ["ds"]})
    task = run_task(gateway, SMALL)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "result_unavailable"
    assert task["_account"]["reserved"] == 0 and task["_account"]["used"] == 0
    assert fake.counters.calls("result") >= 2


def test_a_task_past_its_deadline_fails_with_timeout(fakes: Fakes, fronted: Fronted) -> None:
    fake = fakes("dashscope", timing=Timing(queue_seconds=60, render_seconds=60))
    gateway = fronted({"ds": (fake, {})}, {"default": ["ds"]}, task_deadline=1)
    task = run_task(gateway, SMALL)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "timeout"
    assert task["_account"]["reserved"] == 0


def test_cancel_reaches_the_upstream_only_while_it_is_pending(
    fakes: Fakes, fronted: Fronted
) -> None:
    fake = fakes("dashscope", timing=Timing(queue_seconds=60, render_seconds=60))
    gateway = fronted({"ds": (fake, {})}, {"default": ["ds"]})
    with gateway.client(gateway.make_key()) as api:
        task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        while fake.counters.calls("submit") == 0 or not fake.tasks:
            time.sleep(0.05)
        time.sleep(0.2)
        cancelled = api.post(f"/v1/tasks/{task_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert fake.counters.calls("cancel") == 1

        fake.timing.queue_seconds = 0
        running = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        while api.get(f"/v1/tasks/{running}").json()["status"] == "queued" or len(fake.tasks) < 2:
            time.sleep(0.05)
        time.sleep(0.2)
        refused = api.post(f"/v1/tasks/{running}/cancel")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "task_not_cancellable"


SHAPE_FIELDS = {
    "openai": {"seconds": "8", "size": "1280x720"},
    "native": {"duration": 8, "size": "1280*720"},
    "kik": {"duration": 8, "size": "1280*720"},
    "nebula": {"duration": 8, "size": "1280*720"},
}


@pytest.mark.parametrize("dialect", sorted(SHAPE_FIELDS))
def test_every_upstream_gets_the_shape_that_was_reserved(
    fakes: Fakes, fronted: Fronted, dialect: str
) -> None:
    fake = fakes(dialect)
    gateway = fronted({"up": (fake, {})}, {"veo3": ["up"]})
    task = run_task(gateway, {"prompt": "a lighthouse", "model": "veo3", "ratio": "16:9"})
    assert task["status"] == "completed", task
    (upstream,) = fake.tasks.values()
    sent = {name: upstream.body.get(name) for name in SHAPE_FIELDS[dialect]}
    assert sent == SHAPE_FIELDS[dialect]
    assert upstream.duration == task["duration"] == 8
    assert (upstream.width, upstream.height) == (1280, 720)


@pytest.mark.parametrize("dialect", ["dashscope", "kik"])
def test_results_on_the_providers_own_private_origin_are_fetched(
    fakes: Fakes, fronted: Fronted, dialect: str
) -> None:
    """The guard refuses loopback for inputs here, yet the configured upstream is trusted."""
    fake = fakes(dialect)
    gateway = fronted({"up": (fake, {})}, {"default": ["up"]}, allow_networks="")
    task = run_task(gateway, SMALL)
    assert task["status"] == "completed", task
    assert_rehosted(gateway, task, fake)
