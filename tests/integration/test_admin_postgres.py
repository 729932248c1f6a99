"""Two gateways on one PostgreSQL database: a key revoked or rotated through one is refused
by the other at once, although the other had just authenticated (and cached) it, on every
route, the cached fast reads of a task included."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import start_gateway
from vidgate.service.keys import create_key
from vidgate.store import open_store

pytest_plugins = ["postgres"]  # the postgres_cluster and postgres_url fixtures

SECRET = "admin-postgres-tests-shared-secret"
TASK = {"prompt": "a lighthouse at dusk", "duration": 2, "resolution": "480P"}


def test_revocation_and_rotation_reach_every_node_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    a = start_gateway(shared, database_url=postgres_url, secret_key=SECRET, run_engine=False)
    b = start_gateway(shared, database_url=postgres_url, secret_key=SECRET, run_engine=False)
    try:

        async def make_admin() -> str:
            store = open_store(a.settings.database)
            try:
                await store.open()
                return (await create_key(store, "ops", None, admin=True)).key
            finally:
                await store.close()

        admin_key = asyncio.run(make_admin())
        revoked, rotated = a.make_key("leaving"), a.make_key("rotating")
        with a.client(admin_key) as admin, b.client(revoked) as on_b, b.client(rotated) as on_b2:
            revoked_id = on_b.get("/v1/account").json()["key_id"]
            rotated_id = on_b2.get("/v1/account").json()["key_id"]
            assert on_b.get("/v1/models").status_code == 200, "cached on B now"
            task_id = on_b.post("/v1/tasks", json=TASK).json()["task_id"]
            for _ in range(3):  # the fast read path now holds the key and the rendered task
                assert on_b.get(f"/v1/tasks/{task_id}").status_code == 200
                assert on_b.get(f"/api/v1/tasks/{task_id}").status_code == 200

            assert admin.post(f"/admin/v1/keys/{revoked_id}/revoke").status_code == 200
            assert on_b.get(f"/v1/tasks/{task_id}").status_code == 401
            assert on_b.get(f"/api/v1/tasks/{task_id}").status_code == 401
            answer = on_b.get("/v1/models")
            assert answer.status_code == 401
            assert on_b.get("/v1/account").status_code == 401

            fresh = admin.post(f"/admin/v1/keys/{rotated_id}/rotate").json()["key"]
            assert on_b2.get("/v1/models").status_code == 401
            with b.client(fresh) as renewed:
                assert renewed.get("/v1/account").json()["key_id"] == rotated_id

            listed = admin.get("/admin/v1/audit").json()["data"]
            assert [e["action"] for e in listed[:2]] == ["key.rotate", "key.revoke"]
    finally:
        a.stop()
        b.stop()
