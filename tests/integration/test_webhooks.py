"""Signed webhooks: verified independently, retried while the receiver is down, logged."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from conftest import RunningGateway, wait_terminal
from receiver import Receiver, start_receiver

SMALL = {"prompt": "hook", "duration": 2, "resolution": "480P"}


def settled_log(api: httpx.Client, task_id: str, timeout: float = 10) -> list[dict[str, Any]]:
    """The task's delivery log once no delivery is pending: a receiver has the body before
    the gateway has logged the answer."""
    deadline = time.monotonic() + timeout
    while True:
        log: list[dict[str, Any]] = api.get(f"/v1/tasks/{task_id}/deliveries").json()["data"]
        if all(d["status"] != "pending" for d in log) or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    started.close()


@pytest.fixture
def hooked(gateway_factory: Any) -> RunningGateway:
    gateway: RunningGateway = gateway_factory(webhook_retry_base=0.1)
    return gateway


def test_terminal_event_is_signed_per_standard_webhooks(
    hooked: RunningGateway, receiver: Receiver
) -> None:
    with hooked.client(hooked.make_key()) as api:
        secret = api.get("/v1/account").json()["webhook_secret"]
        assert secret.startswith("whsec_")
        task_id = api.post("/v1/tasks", json={**SMALL, "callback_url": receiver.url}).json()[
            "task_id"
        ]
        wait_terminal(api, task_id)
        [delivery] = receiver.wait_for(1)
        payload = Webhook(secret).verify(delivery.body, delivery.headers)
        assert payload["type"] == "task.completed"
        assert payload["data"]["task_id"] == task_id
        assert payload["data"]["status"] == "completed"
        assert payload["data"]["result"]["video_url"]
        with pytest.raises(Exception, match=r"(?i)signature"):
            Webhook(secret).verify(delivery.body + b" ", delivery.headers)
        log = settled_log(api, task_id)
        assert [d["status"] for d in log] == ["delivered"]
        assert log[0]["id"] == delivery.headers["webhook-id"]
        assert log[0]["attempts"][0]["status_code"] == 204


def test_a_receiver_that_is_down_gets_every_event_once_back(
    hooked: RunningGateway, receiver: Receiver
) -> None:
    receiver.fail_next = 3
    with hooked.client(hooked.make_key()) as api:
        body = {
            **SMALL,
            "callback_url": receiver.url,
            "webhook_events": ["task.processing", "task.progress", "task.completed"],
        }
        task_id = api.post("/v1/tasks", json=body).json()["task_id"]
        wait_terminal(api, task_id)
        log: list[dict[str, Any]] = []
        for _ in range(200):
            log = api.get(f"/v1/tasks/{task_id}/deliveries").json()["data"]
            if log and all(d["status"] == "delivered" for d in log):
                break
            api.get(f"/v1/tasks/{task_id}", params={"wait": 0.1})
        assert log and all(d["status"] == "delivered" for d in log)
        types = [json.loads(r.body)["type"] for r in receiver.wait_for(len(log))]
        assert set(types) == {d["type"] for d in log}
        assert "task.completed" in types and "task.processing" in types
        failures = [a for d in log for a in d["attempts"] if a["status_code"] == 503]
        assert len(failures) == 3
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert len(ids) == len(set(ids))


def test_callbacks_to_private_addresses_are_refused(gateway_factory: Any) -> None:
    gateway: RunningGateway = gateway_factory(allow_networks="")
    with gateway.client(gateway.make_key()) as api:
        for url in ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://[::1]/x"]:
            response = api.post("/v1/tasks", json={**SMALL, "callback_url": url})
            assert response.status_code == 400
            assert response.json()["error"]["param"] == "callback_url"
        bad = api.post("/v1/tasks", json={**SMALL, "webhook_events": ["task.done"]})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "webhook_events"


def test_deliveries_of_another_key_are_hidden(hooked: RunningGateway, receiver: Receiver) -> None:
    with hooked.client(hooked.make_key()) as api, hooked.client(hooked.make_key()) as other:
        task_id = api.post("/v1/tasks", json={**SMALL, "callback_url": receiver.url}).json()[
            "task_id"
        ]
        assert other.get(f"/v1/tasks/{task_id}/deliveries").status_code == 404
        assert httpx.get(f"{hooked.url}/v1/tasks/{task_id}/deliveries").status_code == 401


def test_every_dialect_accepts_callbacks_and_idempotency_keys(
    hooked: RunningGateway, receiver: Receiver
) -> None:
    with hooked.client(hooked.make_key()) as api:
        secret = api.get("/v1/account").json()["webhook_secret"]
        dashscope = {
            "model": "wan2.6-t2v",
            "input": {"prompt": "hook"},
            "parameters": {"size": "832*480", "duration": 2},
            "callback_url": receiver.url,
        }
        headers = {"X-DashScope-Async": "enable", "Idempotency-Key": "ds-1"}
        path = "/api/v1/services/aigc/video-generation/video-synthesis"
        first = api.post(path, json=dashscope, headers=headers).json()["output"]["task_id"]
        again = api.post(path, json=dashscope, headers=headers).json()["output"]["task_id"]
        assert first == again
        kik = {**SMALL, "callback_url": receiver.url, "webhook_events": ["task.completed"]}
        kik_id = api.post("/video/v1/tasks", json=kik).json()["task_id"]
        deliveries = receiver.wait_for(2)
        payloads = [Webhook(secret).verify(d.body, d.headers) for d in deliveries]
        assert {p["data"]["task_id"] for p in payloads} == {first, kik_id}
        assert {p["type"] for p in payloads} == {"task.completed"}
        assert len(api.get("/v1/tasks").json()["data"]) == 2


def test_a_late_delivery_carries_the_task_as_it_was_at_its_event(
    hooked: RunningGateway, receiver: Receiver
) -> None:
    receiver.down = True
    with hooked.client(hooked.make_key()) as api:
        secret = api.get("/v1/account").json()["webhook_secret"]
        body = {
            **SMALL,
            "callback_url": receiver.url,
            "webhook_events": ["task.queued", "task.processing", "task.completed"],
        }
        task_id = api.post("/v1/tasks", json=body).json()["task_id"]
        assert wait_terminal(api, task_id)["status"] == "completed"
        receiver.down = False
        deliveries = receiver.wait_for(3)
    payloads = {
        p["type"]: p for p in (Webhook(secret).verify(d.body, d.headers) for d in deliveries)
    }
    assert payloads["task.queued"]["data"]["status"] == "queued"
    assert payloads["task.queued"]["data"].get("result") is None
    assert payloads["task.processing"]["data"]["status"] == "processing"
    assert payloads["task.completed"]["data"]["status"] == "completed"
    assert payloads["task.completed"]["data"]["result"]["video_url"]
