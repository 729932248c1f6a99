"""`GET /metrics`: counters that move by what tasks, upstreams, webhooks and requests did, and
who may read them."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import RunningGateway, wait_terminal
from receiver import Receiver, start_receiver
from vidgate.service.keys import create_key
from vidgate.store import open_store

SMALL = {"prompt": "counted", "duration": 2, "resolution": "480P"}
TOKEN = "metrics-test-token"
ELSEWHERE = {"X-Forwarded-For": "203.0.113.9"}
"""How a client that is not on loopback looks to a gateway behind a proxy on loopback."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    started.close()


def test_counters_move_by_what_tasks_and_requests_did(
    gateway_factory: Callable[..., RunningGateway], receiver: Receiver
) -> None:
    gateway = gateway_factory(webhook_retry_base=0.1)
    key = gateway.make_key()
    with gateway.client(key) as api:
        before = scrape(api)
        created = api.post("/v1/tasks", json={**SMALL, "callback_url": receiver.url})
        task_id = created.json()["task_id"]
        done = wait_terminal(api, task_id)
        assert done["status"] == "completed"
        reads = 3
        for _ in range(reads):
            assert api.get(f"/v1/tasks/{task_id}").status_code == 200
        assert api.get("/v1/tasks/task_nosuch").status_code == 404
        assert api.get("/no/such/route").status_code == 404
        receiver.wait_for(1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = scrape(api)
            if moved(before, after, "vidgate_webhook_deliveries_total", outcome="delivered"):
                break
            time.sleep(0.05)
    model, provider = done["model"], done["provider"]
    task = {"provider": provider, "model": model}
    assert moved(before, after, "vidgate_tasks_total", **task, status="queued") == 1
    assert moved(before, after, "vidgate_tasks_total", **task, status="completed") == 1
    ended = {"provider": provider, "status": "completed"}
    assert moved(before, after, "vidgate_task_duration_seconds_count", **ended) == 1
    assert moved(before, after, "vidgate_queue_wait_seconds_count", provider=provider) == 1
    seconds = done["usage"]["duration"]
    assert moved(before, after, "vidgate_ledger_credits_total", phase="reserve") == seconds
    assert moved(before, after, "vidgate_ledger_credits_total", phase="settle") == seconds
    assert moved(before, after, "vidgate_ledger_credits_total", phase="refund") == 0
    assert moved(before, after, "vidgate_webhook_deliveries_total", outcome="delivered") == 1
    assert moved(before, after, "vidgate_webhook_lag_seconds_count") == 1

    def http(method: str, route: str, code: str) -> float:
        labels = {"method": method, "route": route, "code": code}
        return moved(before, after, "vidgate_http_requests_total", **labels)

    assert http("POST", "/v1/tasks", "202") == 1
    # The long-polls until the end, then the plain reads (served before routing) all count.
    assert http("GET", "/v1/tasks/{task_id}", "200") >= reads + 1
    assert http("GET", "/v1/tasks/{task_id}", "404") == 1
    assert http("GET", "unmatched", "404") == 1
    assert http("GET", "/metrics", "200") >= 1
    for name, labels in after:
        for label, text in labels:
            # Route templates name `{key_id}`; an id itself is `key_` and hex digits.
            assert task_id not in text, (name, label, text)
            assert not re.search(r"key_[0-9a-f]{8}", text), (name, label, text)


def test_cancel_refunds_and_counts(gateway_factory: Callable[..., RunningGateway]) -> None:
    gateway = gateway_factory(run_engine=False)
    with gateway.client(gateway.make_key()) as api:
        before = scrape(api)
        task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        cancelled = api.post(f"/v1/tasks/{task_id}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        after = scrape(api)
    labels = {"provider": cancelled.json()["provider"], "model": cancelled.json()["model"]}
    assert moved(before, after, "vidgate_tasks_total", **labels, status="cancelled") == 1
    assert moved(before, after, "vidgate_ledger_credits_total", phase="refund") == 2
    route = {"method": "POST", "route": "/v1/tasks/{task_id}/cancel", "code": "200"}
    assert moved(before, after, "vidgate_http_requests_total", **route) == 1


def test_upstream_calls_are_counted_by_provider_and_outcome(
    fakes: Callable[..., Any], fronted: Callable[..., RunningGateway]
) -> None:
    gateway = fronted({"up": (fakes("native"), {})}, {"wan2.6-t2v": ["up"]})
    with gateway.client(gateway.make_key()) as api:
        before = scrape(api)
        task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        assert wait_terminal(api, task_id)["status"] == "completed"
        after = scrape(api)
    calls = moved(before, after, "vidgate_upstream_requests_total", provider="up", outcome="ok")
    assert calls >= 2  # the submit and at least one poll
    timed = moved(before, after, "vidgate_upstream_request_duration_seconds_count", provider="up")
    assert timed == calls
    task = {"provider": "up", "model": "wan2.6-t2v", "status": "completed"}
    assert moved(before, after, "vidgate_tasks_total", **task) == 1


def test_metrics_are_refused_off_loopback_without_the_token_or_an_admin_key(
    gateway_factory: Callable[..., RunningGateway],
) -> None:
    gateway = gateway_factory(run_engine=False, metrics_token=TOKEN)
    ordinary = gateway.make_key()
    admin = asyncio.run(_admin_key(gateway))
    with gateway.client() as client:
        assert client.get("/metrics").status_code == 200
        refused = client.get("/metrics", headers=ELSEWHERE)
        assert refused.status_code == 401
        assert "vidgate_" not in refused.text
        assert refused.json()["error"]["code"] == "unauthorized"
        wrong = client.get("/metrics", headers={**ELSEWHERE, "Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        as_user = {**ELSEWHERE, "Authorization": f"Bearer {ordinary}"}
        assert client.get("/metrics", headers=as_user).status_code == 403
        for bearer in (TOKEN, admin):
            authorized = {**ELSEWHERE, "Authorization": f"Bearer {bearer}"}
            allowed = client.get("/metrics", headers=authorized)
            assert allowed.status_code == 200
            assert "vidgate_http_requests_total" in allowed.text


def test_loopback_can_be_untrusted(gateway_factory: Callable[..., RunningGateway]) -> None:
    gateway = gateway_factory(run_engine=False, metrics_loopback=False, metrics_token=TOKEN)
    with gateway.client() as client:
        assert client.get("/metrics").status_code == 401
        authorized = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/metrics", headers=authorized).status_code == 200


async def _admin_key(gateway: RunningGateway) -> str:
    store = open_store(gateway.settings.database)
    try:
        await store.open()
        return (await create_key(store, "admin", admin=True)).key
    finally:
        await store.close()
