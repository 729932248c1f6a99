"""The admin API (`/admin/v1`), route by route: admin keys only, every change audited, bad
input answered 400 naming the field."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, start_gateway
from vidgate.models import Status, TaskError
from vidgate.records import Transition
from vidgate.service.keys import create_key
from vidgate.store import open_store

SMALL = {"prompt": "a quiet lake", "duration": 2, "resolution": "480P"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """One gateway for the module, engine off: submitted tasks stay queued."""
    running = start_gateway(tmp_path_factory.mktemp("admin") / "data", run_engine=False)
    yield running
    running.stop()


def make_admin(gateway: RunningGateway, name: str = "ops") -> str:
    async def make() -> str:
        store = open_store(gateway.settings.database)
        try:
            await store.open()
            return (await create_key(store, name, None, admin=True)).key
        finally:
            await store.close()

    return asyncio.run(make())


@pytest.fixture(scope="module")
def admin(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with gateway.client(make_admin(gateway)) as client:
        yield client


def audit(admin: httpx.Client, target: str) -> list[dict[str, Any]]:
    answer = admin.get("/admin/v1/audit", params={"target": target})
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["data"]
    return entries


def admin_routes(gateway: RunningGateway) -> list[tuple[str, str]]:
    document = httpx.get(f"{gateway.url}/openapi.json").json()
    return [
        (method.upper(), path.replace("{key_id}", "key_x").replace("{task_id}", "task_x"))
        for path, item in document["paths"].items()
        if path.startswith("/admin/")
        for method in item
    ]


def test_ordinary_keys_get_403_and_no_key_401(gateway: RunningGateway) -> None:
    routes = admin_routes(gateway)
    assert len(routes) == 13, routes
    ordinary = gateway.make_key("plain")
    with gateway.client(ordinary) as plain, gateway.client() as anonymous:
        for method, path in routes:
            refused = plain.request(method, path, json={"name": "x"})
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["error"]["code"] == "forbidden"
            assert anonymous.request(method, path).status_code == 401, (method, path)
        assert plain.get("/v1/account").status_code == 200


def test_create_show_list_rename_and_audit(gateway: RunningGateway, admin: httpx.Client) -> None:
    made = admin.post("/admin/v1/keys", json={"name": "team-a", "quota": 30})
    assert made.status_code == 201, made.text
    body = made.json()
    secret, key_id = body.pop("key"), body["key_id"]
    assert body["quota"] == 30 and body["balance"] == 30 and body["admin"] is False
    assert secret.startswith(body["prefix"])
    with gateway.client(secret) as team:
        assert team.get("/v1/account").json()["key_id"] == key_id

    shown = admin.get(f"/admin/v1/keys/{key_id}")
    assert shown.status_code == 200 and shown.json() == body
    listed = admin.get("/admin/v1/keys")
    assert key_id in [k["key_id"] for k in listed.json()["data"]]
    for text in (listed.text, shown.text):
        assert secret not in text and "webhook_secret" not in text and "hash" not in text

    renamed = admin.patch(f"/admin/v1/keys/{key_id}", json={"name": "team-alpha"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "team-alpha"

    entries = audit(admin, key_id)
    assert [e["action"] for e in entries] == ["key.rename", "key.create"]
    rename, create = entries
    assert rename["actor"].startswith("key:") and rename["created_at"].endswith("Z")
    assert (rename["before"]["name"], rename["after"]["name"]) == ("team-a", "team-alpha")
    assert create["before"] is None and create["after"]["quota"] == 30
    assert secret not in admin.get("/admin/v1/audit").text


def test_quota_limits_rotate_and_revoke(gateway: RunningGateway, admin: httpx.Client) -> None:
    secret = gateway.make_key("metered", quota=10)
    with gateway.client(secret) as user:
        key_id = user.get("/v1/account").json()["key_id"]
        path = f"/admin/v1/keys/{key_id}"
        assert admin.post(f"{path}/quota", json={"top_up": 5}).json()["quota"] == 15
        assert admin.post(f"{path}/quota", json={"quota": 4}).json()["quota"] == 4
        assert user.get("/v1/account").json()["quota"] == 4
        unlimited = admin.post(f"{path}/quota", json={"quota": None}).json()
        assert unlimited["unlimited"] is True and unlimited["quota"] is None
        topping = admin.post(f"{path}/quota", json={"top_up": 1})
        assert topping.status_code == 409 and topping.json()["error"]["param"] == "top_up"

        limits = admin.post(f"{path}/limits", json={"max_in_flight": 2})
        assert limits.status_code == 200, limits.text
        assert (limits.json()["max_in_flight"], limits.json()["max_submits_per_minute"]) == (
            2,
            None,
        )

        rotated = admin.post(f"{path}/rotate")
        assert rotated.status_code == 200
        fresh = rotated.json()["key"]
        assert fresh != secret and rotated.json()["key_id"] == key_id
        assert user.get("/v1/account").status_code == 401, "the old secret stops at once"
        with gateway.client(fresh) as rotated_user:
            assert rotated_user.get("/v1/account").json()["key_id"] == key_id
            revoked = admin.post(f"{path}/revoke")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"]
            assert rotated_user.get("/v1/account").status_code == 401, "revoked at once"
            assert rotated_user.post("/v1/tasks", json=SMALL).status_code == 401
        again = admin.post(f"{path}/revoke")
        assert again.status_code == 409 and again.json()["error"]["code"] == "key_revoked"
        assert admin.post(f"{path}/quota", json={"quota": 1}).status_code == 409
    actions = [e["action"] for e in audit(admin, key_id)]
    assert actions == [
        "key.revoke",
        "key.rotate",
        "key.set_limits",
        "key.set_quota",
        "key.set_quota",
        "key.top_up",
    ]
    rotation = audit(admin, key_id)[1]
    assert rotation["before"]["prefix"] != rotation["after"]["prefix"]
    assert fresh not in str(rotation)


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("POST", "/admin/v1/keys", {"name": ""}, "name"),
        ("POST", "/admin/v1/keys", {"name": "x", "quota": -1}, "quota"),
        ("POST", "/admin/v1/keys", {"name": "x", "colour": "red"}, "colour"),
        ("POST", "/admin/v1/keys", {"quota": 3}, "name"),
        ("POST", "/admin/v1/keys", {"name": "x", "admin": "yes"}, "admin"),
        ("POST", "/admin/v1/keys", {"name": "x", "quota": True}, "quota"),
        ("POST", "/admin/v1/keys", ["name"], None),
        ("POST", "/admin/v1/keys/{key}/quota", {}, "quota"),
        ("POST", "/admin/v1/keys/{key}/quota", {"quota": 1, "top_up": 2}, "quota"),
        ("POST", "/admin/v1/keys/{key}/quota", {"top_up": 0}, "top_up"),
        ("POST", "/admin/v1/keys/{key}/limits", {"max_in_flight": 0}, "max_in_flight"),
        (
            "POST",
            "/admin/v1/keys/{key}/limits",
            {"max_submits_per_minute": "x"},
            "max_submits_per_minute",
        ),
        ("POST", "/admin/v1/keys/{key}/limits", {"max_in_flight": True}, "max_in_flight"),
        ("PATCH", "/admin/v1/keys/{key}", {"name": "y" * 201}, "name"),
        ("GET", "/admin/v1/tasks?status=done", None, "status"),
        ("GET", "/admin/v1/tasks?created_after=yesterday", None, "created_after"),
        ("GET", "/admin/v1/tasks?limit=0", None, "limit"),
        ("GET", "/admin/v1/audit?before=x", None, "before"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    gateway: RunningGateway,
    admin: httpx.Client,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    param: str | None,
) -> None:
    with gateway.client(gateway.make_key("target", quota=3)) as user:
        key_id = user.get("/v1/account").json()["key_id"]
    keys_before = admin.get("/admin/v1/keys").json()["data"]
    answer = admin.request(method, path.replace("{key}", key_id), json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error.get("param") == param
    assert param is None or param in error["message"]
    assert "SELECT" not in answer.text and "Traceback" not in answer.text
    assert admin.get("/admin/v1/keys").json()["data"] == keys_before, "nothing changed"
    assert audit(admin, key_id) == []


def test_unknown_keys_and_tasks_are_404(admin: httpx.Client) -> None:
    for method, path in [
        ("GET", "/admin/v1/keys/key_nope"),
        ("POST", "/admin/v1/keys/key_nope/revoke"),
        ("POST", "/admin/v1/keys/key_nope/rotate"),
        ("GET", "/admin/v1/keys/key_nope/ledger"),
        ("POST", "/admin/v1/tasks/task_nope/cancel"),
        ("GET", "/admin/v1/nothing"),
    ]:
        answer = admin.request(method, path)
        assert answer.status_code == 404, (path, answer.text)
    assert admin.get("/admin/v1/keys/key_nope").json()["error"]["param"] == "key_id"


def test_tasks_of_every_key_filtered_cancelled_and_ledgered(
    gateway: RunningGateway, admin: httpx.Client
) -> None:
    ids: dict[str, list[str]] = {}
    for name in ("alpha", "beta"):
        with gateway.client(gateway.make_key(name, quota=20)) as user:
            key_id = user.get("/v1/account").json()["key_id"]
            ids[key_id] = [user.post("/v1/tasks", json=SMALL).json()["task_id"] for _ in range(2)]
    alpha, beta = ids

    everything = admin.get("/admin/v1/tasks", params={"limit": 100}).json()["data"]
    assert {t["task_id"] for t in everything} >= {*ids[alpha], *ids[beta]}
    mine = admin.get("/admin/v1/tasks", params={"key_id": beta}).json()["data"]
    assert [t["task_id"] for t in mine] == ids[beta][::-1], "newest first"
    assert {t["key_id"] for t in mine} == {beta}
    first = admin.get("/admin/v1/tasks", params={"key_id": alpha, "limit": 1}).json()
    assert first["has_more"] is True and first["data"][0]["task_id"] == ids[alpha][1]
    rest = admin.get(
        "/admin/v1/tasks", params={"key_id": alpha, "after": first["next_after"]}
    ).json()
    assert [t["task_id"] for t in rest["data"]] == [ids[alpha][0]]
    provider = mine[0]["provider"]
    for params in (
        {"status": "queued", "model": mine[0]["model"], "provider": provider},
        {"created_after": "2000-01-01T00:00:00Z", "created_before": "2100-01-01T00:00:00Z"},
    ):
        found = admin.get("/admin/v1/tasks", params={**params, "key_id": beta}).json()["data"]
        assert len(found) == 2, params
    for params in ({"status": "completed"}, {"provider": "nowhere"}, {"model": "none"}):
        assert admin.get("/admin/v1/tasks", params={**params, "key_id": beta}).json()["data"] == []
    future = {"created_after": "2100-01-01T00:00:00+00:00", "key_id": beta}
    assert admin.get("/admin/v1/tasks", params=future).json()["data"] == []

    target = ids[beta][0]
    cancelled = admin.post(f"/admin/v1/tasks/{target}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["key_id"]) == ("cancelled", beta)
    assert cancelled.json()["error"]["message"] == "Cancelled by an administrator."
    assert admin.post(f"/admin/v1/tasks/{target}/cancel").status_code == 409
    [entry] = audit(admin, target)
    assert entry["action"] == "task.cancel"
    assert (entry["before"]["status"], entry["after"]["status"]) == ("queued", "cancelled")

    ledger = admin.get(f"/admin/v1/keys/{beta}/ledger").json()
    kinds = [(e["task_id"], e["kind"]) for e in ledger["data"]]
    assert kinds == [(ids[beta][0], "reserve"), (ids[beta][1], "reserve"), (target, "refund")]
    shown = admin.get(f"/admin/v1/keys/{beta}").json()
    assert (shown["reserved"], shown["balance"]) == (2, 18)


def test_provider_health_counts_queued_and_failed_tasks(
    gateway: RunningGateway, admin: httpx.Client
) -> None:
    with gateway.client(gateway.make_key("health")) as user:
        queued = user.post("/v1/tasks", json=SMALL).json()
        failing = user.post("/v1/tasks", json=SMALL).json()
    provider = queued["provider"]
    before = {p["provider"]: p for p in admin.get("/admin/v1/providers").json()["data"]}
    assert before[provider]["queued"] >= 2

    async def fail() -> None:
        store = open_store(gateway.settings.database)
        try:
            await store.open()
            error = TaskError(code="upstream_error", message="the render farm is on fire")
            change = Transition([Status.QUEUED], Status.FAILED, error=error)
            assert await store.transition(failing["task_id"], change) is not None
        finally:
            await store.close()

    asyncio.run(fail())
    after = {p["provider"]: p for p in admin.get("/admin/v1/providers").json()["data"]}
    health = after[provider]
    assert health["queued"] == before[provider]["queued"] - 1
    assert health["in_flight"] == 0 and health["failed"] == before[provider]["failed"] + 1
    assert health["error_rate"] == 1.0 and health["window_seconds"] == 3600
    assert health["last_error"] == {
        "code": "upstream_error",
        "message": "the render farm is on fire",
    }
    assert health["last_error_at"].endswith("Z")


def test_an_admin_key_made_by_the_api_can_administer(
    gateway: RunningGateway, admin: httpx.Client, tmp_path: Path
) -> None:
    made = admin.post("/admin/v1/keys", json={"name": "deputy", "admin": True}).json()
    assert made["admin"] is True
    with gateway.client(made["key"]) as deputy:
        assert deputy.get("/admin/v1/keys").status_code == 200
        deputy.post(f"/admin/v1/keys/{made['key_id']}/revoke").raise_for_status()
        assert deputy.get("/admin/v1/keys").status_code == 401
