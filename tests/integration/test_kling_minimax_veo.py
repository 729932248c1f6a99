"""Kling, MiniMax and Veo behind the gateway, through their fakes: every mode each supports,
failover on a capacity refusal, the standard faults, content-policy failures, and shapes a
model cannot render refused up front."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_upstream_providers import assert_rehosted, run_task

from conftest import RunningGateway, png_bytes
from vidgate.settings import ConfigError, load_providers
from vidgate.testing import FakeUpstream, SubmitFailure, Timing
from vidgate.testing.credentials import KLING_KEY

Fakes = Callable[..., FakeUpstream]
Fronted = Callable[..., RunningGateway]
IMAGE = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
MODEL = {"kling": "kling-v1-6", "minimax": "T2V-01", "veo": "veo-3.0-fast-generate-001"}
SMALL = {
    "kling": {"duration": 5, "resolution": "720P"},
    "minimax": {"duration": 6},
    "veo": {"duration": 4, "resolution": "720P"},
}
KEYS = {"kling": KLING_KEY, "minimax": "mm-test", "veo": "gk-test"}
KINDS = tuple(MODEL)


def _fake(fakes: Fakes, kind: str) -> FakeUpstream:
    return fakes(kind, keys=[KEYS[kind]])


def _extra(kind: str) -> dict[str, Any]:
    return {"api_key": KEYS[kind]}


def _body(kind: str, **fields: Any) -> dict[str, Any]:
    return {"prompt": "a lighthouse", "model": MODEL[kind], **SMALL[kind], **fields}


CASES = [
    ("kling", {}, "POST /v1/videos/text2video"),
    ("kling", {"img_url": IMAGE}, "POST /v1/videos/image2video"),
    ("minimax", {}, "POST /v1/video_generation"),
    ("minimax", {"model": "I2V-01", "img_url": IMAGE}, "POST /v1/video_generation"),
    ("veo", {"ratio": "9:16"}, "POST /v1beta/models/{model}:predictLongRunning"),
    ("veo", {"img_url": IMAGE}, "POST /v1beta/models/{model}:predictLongRunning"),
]


@pytest.mark.parametrize(
    ("kind", "fields", "route"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_mode_completes_and_is_rehosted(
    fakes: Fakes, fronted: Fronted, kind: str, fields: dict[str, Any], route: str
) -> None:
    fake = _fake(fakes, kind)
    body = _body(kind, **fields)
    gateway = fronted({"up": (fake, _extra(kind))}, {body["model"]: ["up"]})
    task = run_task(gateway, body)
    assert task["status"] == "completed", task
    assert task["provider"] == "up"
    assert_rehosted(gateway, task, fake)
    assert fake.counters.calls(route) == 1
    sent = next(iter(fake.tasks.values())).body
    if kind == "kling":
        assert sent["mode"] == "std" and sent["duration"] == "5"
        assert ("image" in sent) == ("img_url" in fields)
    elif kind == "minimax":
        assert sent["duration"] == 6 and sent["resolution"] == "720P"
        assert fake.counters.calls("content") == 1
    else:
        parameters = sent["parameters"]
        assert parameters["durationSeconds"] == 4 and parameters["resolution"] == "720p"
        image = sent["instances"][0].get("image")
        assert (image is not None) == ("img_url" in fields)
        if image is not None:
            assert base64.b64decode(image["bytesBase64Encoded"]) == png_bytes()


CAPACITY = [
    ("kling", SubmitFailure("1302", status=429, retry_after=0.1)),
    ("minimax", SubmitFailure("1002")),
    ("veo", SubmitFailure("RESOURCE_EXHAUSTED", retry_after=0.1)),
]


@pytest.mark.parametrize(("kind", "failure"), CAPACITY, ids=[f"{k}-{f.code}" for k, f in CAPACITY])
def test_capacity_refusals_fail_over_before_acceptance(
    fakes: Fakes, fronted: Fronted, kind: str, failure: SubmitFailure
) -> None:
    first, second = _fake(fakes, kind), _fake(fakes, kind)
    first.faults.submit_failure = failure
    gateway = fronted(
        {"a": (first, _extra(kind)), "b": (second, _extra(kind))}, {MODEL[kind]: ["a", "b"]}
    )
    task = run_task(gateway, _body(kind))
    assert task["status"] == "completed", task
    assert task["provider"] == "b"
    assert first.counters.calls("submit") >= 1 and second.counters.calls("submit") == 1
    assert first.counters.calls("query") == 0


STANDARD_FAULTS = {
    "error_rate": 0.3,
    "throttled": 2,
    "retry_after": 0.1,
    "malformed_rate": 0.2,
    "unknown_status": "SUSPENDED",
    "unknown_polls": 2,
    "seed": 11,
}


@pytest.mark.parametrize("kind", KINDS)
def test_standard_faults_never_fail_a_task(fakes: Fakes, fronted: Fronted, kind: str) -> None:
    fake = _fake(fakes, kind)
    for name, value in STANDARD_FAULTS.items():
        setattr(fake.faults, name, value)
    gateway = fronted({"up": (fake, _extra(kind))}, {MODEL[kind]: ["up"]})
    task = run_task(gateway, _body(kind), timeout=60)
    assert task["status"] == "completed", task
    assert_rehosted(gateway, task, fake)


POLICY = [
    ("kling", "submit", "1301", "Trigger the content security policy of the platform"),
    ("kling", "task", "task_failed", "Failure to pass the risk control system"),
    ("minimax", "submit", "1026", "input new_sensitive"),
    ("minimax", "task", "1027", "output video new_sensitive"),
    ("veo", "task", "RAI_MEDIA_FILTERED", "The prompt was blocked for safety reasons."),
]


@pytest.mark.parametrize(
    ("kind", "where", "code", "message"), POLICY, ids=[f"{p[0]}-{p[1]}" for p in POLICY]
)
def test_content_policy_failures_keep_the_providers_code_and_message(
    fakes: Fakes, fronted: Fronted, kind: str, where: str, code: str, message: str
) -> None:
    first, second = _fake(fakes, kind), _fake(fakes, kind)
    if where == "submit":
        first.faults.fail_submits(code, message=message)
    else:
        first.faults.fail_tasks(code, message)
    gateway = fronted(
        {"a": (first, _extra(kind)), "b": (second, _extra(kind))}, {MODEL[kind]: ["a", "b"]}
    )
    task = run_task(gateway, _body(kind))
    assert task["status"] == "failed", task
    assert task["error"] == {"code": code, "message": message}
    assert second.counters.calls("submit") == 0
    assert task["_account"]["reserved"] == 0 and task["_account"]["used"] == 0


@pytest.mark.parametrize("kind", ["veo"])
def test_expired_result_urls_fail_with_result_unavailable(
    fakes: Fakes, fronted: Fronted, kind: str
) -> None:
    fake = _fake(fakes, kind)
    fake.faults.expired_results = True
    gateway = fronted({"up": (fake, _extra(kind))}, {MODEL[kind]: ["up"]})
    task = run_task(gateway, _body(kind))
    assert task["status"] == "failed"
    assert task["error"]["code"] == "result_unavailable"


REFUSED_SHAPES = [
    ({"model": "kling-v1-6", "ratio": "4:3"}, "ratio"),
    ({"model": "kling-v2-1-master", "resolution": "720P"}, "resolution"),
    ({"model": "MiniMax-Hailuo-02", "resolution": "1080P", "duration": 10}, "duration"),
    ({"model": "veo-3.0-generate-001", "resolution": "1080P", "duration": 4}, "duration"),
    ({"model": "T2V-01", "img_url": IMAGE}, "mode"),
]


def test_shapes_a_model_cannot_render_are_refused_up_front(fakes: Fakes, fronted: Fronted) -> None:
    fake = _fake(fakes, "kling")
    gateway = fronted({"up": (fake, _extra("kling"))}, {"default": ["up"]})
    with gateway.client(gateway.make_key("u", quota=100)) as api:
        for fields, param in REFUSED_SHAPES:
            answer = api.post("/v1/tasks", json={"prompt": "a lighthouse", **fields})
            assert answer.status_code == 400, (fields, answer.text)
            assert answer.json()["error"]["param"] == param, fields
        assert api.get("/v1/account").json()["reserved"] == 0
    assert fake.counters.calls() == 0


def test_a_task_kling_holds_cannot_be_cancelled(fakes: Fakes, fronted: Fronted) -> None:
    fake = fakes("kling", keys=[KLING_KEY], timing=Timing(queue_seconds=30, render_seconds=30))
    gateway = fronted({"up": (fake, _extra("kling"))}, {MODEL["kling"]: ["up"]})
    with gateway.client(gateway.make_key("u", quota=100)) as api:
        task_id = api.post("/v1/tasks", json=_body("kling")).json()["task_id"]
        deadline = time.monotonic() + 20
        while api.get(f"/v1/tasks/{task_id}").json()["status"] == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        refused = api.post(f"/v1/tasks/{task_id}/cancel")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "task_not_cancellable"
    assert fake.counters.calls("cancel") == 0


def test_a_kling_key_without_its_secret_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text('[providers.k]\nkind = "kling"\nbase_url = "http://x"\napi_key = "ak-only"\n')
    with pytest.raises(ConfigError, match="ACCESS_KEY:SECRET_KEY"):
        load_providers(path)
    path.write_text(path.read_text().replace("ak-only", "ak:sk"))
    assert load_providers(path).providers["k"].credentials({}) == ["ak:sk"]
