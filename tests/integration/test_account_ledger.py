"""`GET /v1/account/ledger`: a key's own quota movements, newest first, page by page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conftest import RunningGateway, start_gateway

SMALL = {"prompt": "a quiet lake", "duration": 2, "resolution": "480P"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """Engine off: submitted tasks stay queued until cancelled."""
    running = start_gateway(tmp_path_factory.mktemp("ledger") / "data", run_engine=False)
    yield running
    running.stop()


def submit(client: httpx.Client) -> str:
    answer = client.post("/v1/tasks", json=SMALL)
    assert answer.status_code == 202, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


def test_a_key_sees_its_own_entries_newest_first_and_never_another_keys(
    gateway: RunningGateway,
) -> None:
    with (
        gateway.client(gateway.make_key("alice", quota=30)) as alice,
        gateway.client(gateway.make_key("bob", quota=30)) as bob,
    ):
        assert alice.get("/v1/account/ledger").json() == {
            "object": "list",
            "data": [],
            "has_more": False,
            "next_after": None,
        }
        first = submit(alice)
        bobs = submit(bob)
        second = submit(alice)
        assert alice.post(f"/v1/tasks/{first}/cancel").status_code == 200
        submit(bob)

        mine = alice.get("/v1/account/ledger").json()
        assert [(e["task_id"], e["kind"]) for e in mine["data"]] == [
            (first, "refund"),
            (second, "reserve"),
            (first, "reserve"),
        ]
        assert [e["seconds"] for e in mine["data"]] == [2, 2, 2]
        ids = [e["id"] for e in mine["data"]]
        assert ids == sorted(ids, reverse=True)
        assert mine["has_more"] is False and mine["next_after"] is None
        assert all(e["created_at"].endswith("Z") for e in mine["data"])

        theirs = bob.get("/v1/account/ledger").json()["data"]
        assert {e["task_id"] for e in theirs} == {bobs} | {theirs[0]["task_id"]}
        assert not {first, second} & {e["task_id"] for e in theirs}
        assert alice.get("/v1/account").json()["balance"] == 28


def test_pages_with_limit_and_after(gateway: RunningGateway) -> None:
    with gateway.client(gateway.make_key("carol", quota=30)) as carol:
        tasks = [submit(carol) for _ in range(3)]
        page = carol.get("/v1/account/ledger", params={"limit": 2}).json()
        assert [e["task_id"] for e in page["data"]] == tasks[:0:-1]
        assert page["has_more"] is True and page["next_after"] == page["data"][-1]["id"]
        rest = carol.get(
            "/v1/account/ledger", params={"limit": 2, "after": page["next_after"]}
        ).json()
        assert [e["task_id"] for e in rest["data"]] == tasks[:1]
        assert rest["has_more"] is False and rest["next_after"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"after": "abc"}, "after")],
)
def test_bad_paging_is_a_400_naming_the_field(
    gateway: RunningGateway, params: dict[str, int | str], field: str
) -> None:
    with gateway.client(gateway.make_key("dave")) as dave:
        answer = dave.get("/v1/account/ledger", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == field


def test_no_key_or_a_wrong_one_is_401(gateway: RunningGateway) -> None:
    with gateway.client() as anonymous:
        assert anonymous.get("/v1/account/ledger").status_code == 401
    with gateway.client("vg-not-a-key") as stranger:
        assert stranger.get("/v1/account/ledger").status_code == 401
