"""Isolation between keys, quota accounting, cancellation and idempotent submits."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx

from conftest import RunningGateway, wait_terminal

SMALL = {"prompt": "a quiet lake", "duration": 2, "resolution": "480P"}


def account(api: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = api.get("/v1/account").json()
    return body


def test_every_route_needs_a_valid_key(gateway: RunningGateway) -> None:
    with gateway.client() as anonymous:
        for method, path in [
            ("GET", "/v1/tasks"),
            ("POST", "/v1/tasks"),
            ("GET", "/v1/tasks/x"),
            ("POST", "/v1/tasks/x/cancel"),
            ("POST", "/v1/tasks/sync"),
            ("GET", "/v1/models"),
            ("GET", "/v1/account"),
            ("POST", "/v1/files"),
        ]:
            response = anonymous.request(method, path)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "invalid_api_key"
    with gateway.client("vg-not-a-key") as wrong:
        assert wrong.get("/v1/tasks").status_code == 401
    assert httpx.get(gateway.url + "/healthz").status_code == 200


def test_a_key_sees_only_its_own_tasks(gateway: RunningGateway, api: httpx.Client) -> None:
    task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
    with gateway.client(gateway.make_key("other")) as other:
        assert other.get(f"/v1/tasks/{task_id}").status_code == 404
        assert other.get(f"/v1/tasks/{task_id}", params={"wait": 1}).status_code == 404
        assert other.post(f"/v1/tasks/{task_id}/cancel").status_code == 404
        assert other.get("/v1/tasks").json()["data"] == []
    assert api.get(f"/v1/tasks/{task_id}").status_code == 200


def test_quota_is_reserved_settled_and_refused_when_short(gateway: RunningGateway) -> None:
    with gateway.client(gateway.make_key("metered", quota=5)) as api:
        assert account(api)["balance"] == 5
        first = api.post("/v1/tasks", json={**SMALL, "duration": 3})
        assert first.status_code == 202
        refused = api.post("/v1/tasks", json={**SMALL, "duration": 3})
        assert refused.status_code == 402
        error = refused.json()["error"]
        assert error["code"] == "insufficient_quota"
        assert "3 s" in error["message"]
        wait_terminal(api, first.json()["task_id"])
        after = account(api)
        assert after == {**after, "quota": 5, "used": 3, "reserved": 0, "balance": 2}
        assert api.post("/v1/tasks", json={**SMALL, "duration": 2}).status_code == 202
        assert api.get("/v1/tasks").json()["data"][0]["status"] in (
            "queued",
            "processing",
            "completed",
        )
        assert len(api.get("/v1/tasks").json()["data"]) == 2


def test_unlimited_key_has_no_balance(api: httpx.Client) -> None:
    body = account(api)
    assert body["unlimited"] is True
    assert body["quota"] is None and body["balance"] is None


def test_cancel_a_queued_task_refunds_once(gateway_factory: Any) -> None:
    gateway = gateway_factory(run_engine=False)
    with gateway.client(gateway.make_key("q", quota=10)) as api:
        task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        assert account(api)["reserved"] == 2
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(lambda _: api.post(f"/v1/tasks/{task_id}/cancel").status_code, range(8))
            )
        assert sorted(codes) == [200] + [409] * 7
        task = api.get(f"/v1/tasks/{task_id}").json()
        assert task["status"] == "cancelled"
        assert task["error"]["code"] == "cancelled"
        assert account(api)["reserved"] == 0
        assert account(api)["balance"] == 10
        again = api.post(f"/v1/tasks/{task_id}/cancel")
        assert again.status_code == 409
        assert "already cancelled" in again.json()["error"]["message"]


def test_cancel_a_running_render(api: httpx.Client) -> None:
    task_id = api.post(
        "/v1/tasks", json={"prompt": "long", "duration": 15, "resolution": "1080P"}
    ).json()["task_id"]
    for _ in range(100):
        body = api.get(f"/v1/tasks/{task_id}", params={"wait": 5}).json()
        if body["status"] == "processing":
            break
    assert body["status"] == "processing"
    cancelled = api.post(f"/v1/tasks/{task_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    final = api.get(f"/v1/tasks/{task_id}", params={"wait": 2}).json()
    assert final["status"] == "cancelled"
    assert "result" not in final and "usage" not in final
    assert account(api)["used"] == 0 and account(api)["reserved"] == 0
    assert api.post(f"/v1/tasks/{task_id}/cancel").status_code == 409


def test_cancel_a_completed_task_is_refused(api: httpx.Client) -> None:
    task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
    assert wait_terminal(api, task_id)["status"] == "completed"
    refused = api.post(f"/v1/tasks/{task_id}/cancel")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "task_not_cancellable"


def test_idempotency_key_returns_the_same_task_without_a_second_charge(
    gateway_factory: Any,
) -> None:
    gateway = gateway_factory(run_engine=False)
    with gateway.client(gateway.make_key("idem", quota=100)) as api:
        headers = {"Idempotency-Key": "order-42"}

        def submit(_: int) -> httpx.Response:
            return api.post("/v1/tasks", json=SMALL, headers=headers)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(submit, range(6)))
        assert {r.status_code for r in responses} == {202}
        assert len({r.json()["task_id"] for r in responses}) == 1
        assert account(api)["reserved"] == 2
        assert len(api.get("/v1/tasks").json()["data"]) == 1

        changed = api.post("/v1/tasks", json={**SMALL, "prompt": "other"}, headers=headers)
        assert changed.status_code == 409
        assert changed.json()["error"]["code"] == "idempotency_key_reused"
        with gateway.client(gateway.make_key("b")) as other:
            assert (
                other.post("/v1/tasks", json=SMALL, headers=headers).json()["task_id"]
                != (responses[0].json()["task_id"])
            )
