"""Runway, Luma, fal and Replicate behind the gateway, through their fakes: every mode each
supports, failover on a capacity refusal, standard faults and content-policy failures."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from test_upstream_providers import assert_rehosted, run_task

from conftest import RunningGateway, png_bytes
from vidgate.testing import FakeUpstream

Fakes = Callable[..., FakeUpstream]
Fronted = Callable[..., RunningGateway]
IMAGE = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("runway", {"model": "gen4.5", "duration": 2}, "POST /v1/text_to_video"),
    ("runway", {"model": "gen4_turbo", "img_url": IMAGE}, "POST /v1/image_to_video"),
    ("luma", {"model": "ray-flash-2"}, "POST /dream-machine/v1/generations/video"),
    (
        "luma",
        {"model": "ray-2", "first_frame_url": IMAGE},
        "POST /dream-machine/v1/generations/video",
    ),
    ("fal", {"model": "fal-ai/wan/v2.2-a14b/text-to-video", "resolution": "480P"}, "submit"),
    ("fal", {"model": "fal-ai/wan/v2.2-a14b/image-to-video", "img_url": IMAGE}, "submit"),
    (
        "replicate",
        {"model": "wan-video/wan-2.2-t2v-fast", "resolution": "480P"},
        "POST /v1/models/{owner}/{name}/predictions",
    ),
    ("replicate", {"model": "wan-video/wan-2.2-i2v-fast", "img_url": IMAGE}, "submit"),
]
CONTENT_POLICY = {
    "runway": "SAFETY.INPUT.TEXT",
    "luma": "content_moderation",
    "fal": "content_policy_violation",
    "replicate": "content_flagged",
}
MODEL = {
    "runway": "gen4.5",
    "luma": "ray-flash-2",
    "fal": "fal-ai/wan/v2.2-a14b/text-to-video",
    "replicate": "wan-video/wan-2.2-t2v-fast",
}
PROVIDERS = tuple(MODEL)


def _body(kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": "a lighthouse", "model": MODEL[kind]}
    if kind == "runway":
        body["duration"] = 2
    if kind in ("fal", "replicate"):
        body["resolution"] = "480P"
    return body


@pytest.mark.parametrize("kind", PROVIDERS)
def test_every_mode_completes_and_is_rehosted(fakes: Fakes, fronted: Fronted, kind: str) -> None:
    fake = fakes(kind)
    cases = [case for case in CASES if case[0] == kind]
    routes = {fields["model"]: ["up"] for _, fields, _ in cases}
    gateway = fronted({"up": (fake, {"kind": kind})}, routes)
    for _, fields, route in cases:
        before = fake.counters.calls(route)
        task = run_task(gateway, {"prompt": "a lighthouse", **fields})
        assert task["status"] == "completed", task
        assert task["provider"] == "up"
        assert_rehosted(gateway, task, fake)
        assert fake.counters.calls(route) == before + 1
        assert task["_account"]["reserved"] == 0


@pytest.mark.parametrize("kind", PROVIDERS)
def test_capacity_refusal_fails_over_before_acceptance(
    fakes: Fakes, fronted: Fronted, kind: str
) -> None:
    busy, spare = fakes(kind), fakes(kind)
    busy.faults.fail_submits(busy.state.style.throttled[0], 429)
    gateway = fronted(
        {"busy": (busy, {"kind": kind}), "spare": (spare, {"kind": kind})},
        {MODEL[kind]: ["busy", "spare"]},
    )
    task = run_task(gateway, _body(kind))
    assert task["status"] == "completed", task
    assert task["provider"] == "spare"
    assert busy.counters.calls("submit") >= 1 and not busy.tasks
    assert spare.counters.calls("submit") == 1


@pytest.mark.parametrize("kind", PROVIDERS)
def test_standard_faults_pass_and_content_policy_failures_keep_their_code(
    fakes: Fakes, fronted: Fronted, kind: str
) -> None:
    fake = fakes(kind)
    fake.faults.errors = 2
    fake.faults.malformed_rate = 0.2
    fake.faults.seed = 7
    fake.faults.emit_unknown("WEIRD", polls=2)
    fake.faults.throttle(1, retry_after=0.1)
    gateway = fronted({"up": (fake, {"kind": kind})}, {MODEL[kind]: ["up"]})
    task = run_task(gateway, _body(kind), timeout=60)
    assert task["status"] == "completed", task
    assert_rehosted(gateway, task, fake)

    fake.faults.reset()
    code = CONTENT_POLICY[kind]
    fake.faults.fail_tasks(code)
    failed = run_task(gateway, _body(kind))
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == code
    assert failed["error"]["message"] == fake.state.style.task_errors[code]
    account = failed["_account"]
    assert account["reserved"] == 0 and account["used"] == 0
