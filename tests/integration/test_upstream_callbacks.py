"""Upstream callbacks through the gateway: signed ones finish a task with no poll, forged ones
are refused, unsigned ones bring exactly one poll forward and are never taken as a status, and
MiniMax's challenge is echoed only to a URL with a valid token."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from test_upstream_providers import assert_rehosted

from conftest import RunningGateway, free_port, wait_terminal
from vidgate.testing import FakeUpstream, Timing
from vidgate.testing.credentials import KLING_KEY

Fakes = Callable[..., FakeUpstream]
Fronted = Callable[..., RunningGateway]
MODEL = {
    "luma": "ray-flash-2",
    "fal": "fal-ai/wan/v2.2-a14b/text-to-video",
    "replicate": "wan-video/wan-2.2-t2v-fast",
    "kling": "kling-v1-6",
    "minimax": "T2V-01",
}
SHAPE: dict[str, dict[str, Any]] = {
    "luma": {"resolution": "720P"},
    "kling": {"resolution": "720P", "duration": 5},
    "minimax": {"resolution": "720P", "duration": 6},
}
KEYS = {"kling": KLING_KEY, "minimax": "mm-test"}
SLOW_POLLS = {"poll_interval": 0.5, "callback_poll_factor": 40}
"""Polls 20 s apart while a callback is expected: any poll seen in a test is a callback's."""


def _fake(fakes: Fakes, kind: str, timing: Timing) -> FakeUpstream:
    keys = [KEYS[kind]] if kind in KEYS else None
    return fakes(kind, timing=timing, **({"keys": keys} if keys else {}))


def _gateway(fronted: Fronted, kind: str, fake: FakeUpstream) -> RunningGateway:
    extra: dict[str, Any] = {"kind": kind, **SLOW_POLLS}
    if kind in KEYS:
        extra["api_key"] = KEYS[kind]
    if kind == "fal":
        extra["callback_jwks_url"] = fake.url + "/.well-known/jwks.json"
    port = free_port()
    return fronted(
        {"up": (fake, extra)},
        {MODEL[kind]: ["up"]},
        port=port,
        public_url=f"http://127.0.0.1:{port}",
    )


def _submit(api: httpx.Client, kind: str) -> str:
    body = {"prompt": "a lighthouse", "model": MODEL[kind], "resolution": "480P"}
    body.update(SHAPE.get(kind, {}))
    created = api.post("/v1/tasks", json=body)
    assert created.status_code == 202, created.text
    return str(created.json()["task_id"])


def _accepted(fake: FakeUpstream) -> Any:
    """The upstream task, once the gateway has had time to record that it was accepted."""
    deadline = time.monotonic() + 10
    while not fake.counters.responses():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    return next(iter(fake.tasks.values()))


@pytest.mark.parametrize("kind", ["replicate", "fal"])
def test_signed_callback_finishes_a_task_with_no_poll(
    fakes: Fakes, fronted: Fronted, kind: str, request: pytest.FixtureRequest
) -> None:
    fake = fakes(kind, timing=Timing(queue_seconds=0.1, render_seconds=0.4))
    gateway = _gateway(fronted, kind, fake)
    api = gateway.client(gateway.make_key("u", quota=100))
    request.addfinalizer(api.close)
    task_id = _submit(api, kind)
    task = wait_terminal(api, task_id, 15)
    assert task["status"] == "completed", task
    assert_rehosted(gateway, task, fake)
    assert fake.counters.calls("callback") == 1
    assert fake.counters.calls("query") == 0
    assert fake.counters.calls("content") == 0


@pytest.mark.parametrize("kind", ["replicate", "fal"])
def test_forged_signature_is_refused_and_an_unsigned_body_is_only_a_hint(
    fakes: Fakes, fronted: Fronted, kind: str, request: pytest.FixtureRequest
) -> None:
    fake = fakes(kind, timing=Timing(queue_seconds=30, render_seconds=30))
    gateway = _gateway(fronted, kind, fake)
    api = gateway.client(gateway.make_key("u", quota=100))
    request.addfinalizer(api.close)
    task_id = _submit(api, kind)
    upstream = _accepted(fake)
    url = upstream.body.get("webhook") or ""
    if kind == "replicate":
        body = {"id": upstream.task_id, "status": "succeeded", "output": fake.url + "/x.mp4"}
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,Zm9yZ2Vk",
        }
    else:
        url = upstream.extra["webhook"]
        body = {"request_id": upstream.task_id, "status": "OK", "payload": {"video": {"url": "x"}}}
        headers = {
            "X-Fal-Webhook-Request-Id": upstream.task_id,
            "X-Fal-Webhook-User-Id": "someone",
            "X-Fal-Webhook-Timestamp": str(int(time.time())),
            "X-Fal-Webhook-Signature": "ab" * 64,
        }
    assert url.startswith(gateway.url + "/v1/upstream-callbacks/up/" + task_id + "/")
    refused = httpx.post(url, json=body, headers=headers)
    assert refused.status_code == 401, refused.text
    assert httpx.post(url[:-4] + "0000", json=body).status_code == 404
    time.sleep(0.3)
    assert api.get(f"/v1/tasks/{task_id}").json()["status"] == "processing"
    assert fake.counters.calls("query") == 0

    # Without a signature the same body is only a hint: one poll, which finds the truth.
    hinted = httpx.post(url, json=body)
    assert hinted.status_code == 200 and hinted.json()["outcome"] == "hint"
    deadline = time.monotonic() + 5
    while fake.counters.calls("query") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    assert api.get(f"/v1/tasks/{task_id}").json()["status"] == "processing"
    assert fake.counters.calls("query") == 1


@pytest.mark.parametrize("kind", ["luma", "kling", "minimax"])
def test_unsigned_callback_is_a_hint_for_exactly_one_poll(
    fakes: Fakes, fronted: Fronted, kind: str, request: pytest.FixtureRequest
) -> None:
    fake = _fake(fakes, kind, Timing(queue_seconds=0.1, render_seconds=0.4))
    gateway = _gateway(fronted, kind, fake)
    api = gateway.client(gateway.make_key("u", quota=100))
    request.addfinalizer(api.close)
    started = time.monotonic()
    task_id = _submit(api, kind)
    task = wait_terminal(api, task_id, 15)
    assert task["status"] == "completed", task
    assert time.monotonic() - started < 10, "finished on the slow schedule, not the callback"
    assert_rehosted(gateway, task, fake)
    sent = next(iter(fake.tasks.values())).body
    assert sent["callback_url"].startswith(f"{gateway.url}/v1/upstream-callbacks/up/{task_id}/")
    assert fake.counters.calls("callback") == 1
    assert fake.counters.calls("query") == 1
    if kind == "minimax":
        assert fake.counters.calls("challenge") == 1
        assert fake.counters.calls("content") == 1


def test_minimax_challenge_is_echoed_only_with_a_valid_token(
    fakes: Fakes, fronted: Fronted, request: pytest.FixtureRequest
) -> None:
    fake = _fake(fakes, "minimax", Timing(queue_seconds=30, render_seconds=30))
    gateway = _gateway(fronted, "minimax", fake)
    api = gateway.client(gateway.make_key("u", quota=100))
    request.addfinalizer(api.close)
    task_id = _submit(api, "minimax")
    url = _accepted(fake).body["callback_url"]
    challenge = {"challenge": "c-1f9 \u00e9/+="}
    echoed = httpx.post(url, json=challenge)
    assert echoed.status_code == 200
    assert echoed.json() == challenge
    forged = httpx.post(url[:-4] + "0000", json=challenge)
    assert forged.status_code == 404
    assert "challenge" not in forged.text
    other = url.replace(f"/{task_id}/", "/tsk_other/")
    assert httpx.post(other, json=challenge).status_code == 404
    time.sleep(0.3)
    assert fake.counters.calls("query") == 0, "a challenge is not a hint to poll"
    assert api.get(f"/v1/tasks/{task_id}").json()["status"] == "processing"


def test_minimax_fake_refuses_a_task_whose_callback_url_does_not_echo(
    fakes: Fakes,
) -> None:
    fake = _fake(fakes, "minimax", Timing(queue_seconds=30, render_seconds=30))
    body = {"model": "T2V-01", "prompt": "a lighthouse", "duration": 6, "resolution": "720P"}
    headers = {"Authorization": "Bearer mm-test"}
    dead = f"http://127.0.0.1:{free_port()}/hook"
    refused = httpx.post(
        fake.url + "/v1/video_generation", json={**body, "callback_url": dead}, headers=headers
    )
    assert refused.status_code == 200
    assert refused.json()["base_resp"]["status_code"] == 2013
    assert "callback_url" in refused.json()["base_resp"]["status_msg"]
    assert not fake.tasks
    assert fake.counters.calls("challenge") == 1
