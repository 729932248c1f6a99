"""Every dialect's GET-by-id answers exactly as its route does, and never from a stale copy.

The read is answered before FastAPI's routing; a query string sends it to the route itself,
which is what each answer is compared with, byte for byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, start_gateway
from vidgate.models import Status, TaskError, Usage
from vidgate.records import StoredResult, Transition
from vidgate.store import open_store

pytest_plugins = ["postgres"]

PATHS = {
    "native": "/v1/tasks/{id}",
    "openai": "/v1/videos/{id}",
    "dashscope": "/api/v1/tasks/{id}",
    "kik": "/video/v1/tasks/{id}",
    "nebula": "/v1/video/generations/{id}",
}
REQUEST_ID = {"X-Request-Id": "fast-read-check"}
BODY = {"prompt": "A cat running across a meadow", "duration": 2, "resolution": "480P"}
RESULT = StoredResult(
    blob="fast-read-result.mp4", duration=2.0, width=832, height=480, fps=24, bytes=1
)
USAGE = Usage(
    duration=2.0,
    input_video_duration=0.0,
    output_video_duration=2.0,
    video_count=1,
    SR=480,
    ratio="16:9",
)
CHANGES = {
    "queued": [],
    "processing": [Transition([Status.QUEUED], Status.PROCESSING)],
    "completed": [
        Transition([Status.QUEUED], Status.PROCESSING),
        Transition([Status.PROCESSING], Status.COMPLETED, result=RESULT, usage=USAGE),
    ],
    "failed": [
        Transition(
            [Status.QUEUED],
            Status.FAILED,
            error=TaskError(code="render_failed", message="The render failed."),
        )
    ],
    "cancelled": [
        Transition(
            [Status.QUEUED],
            Status.CANCELLED,
            error=TaskError(code="cancelled", message="Cancelled by the client."),
        )
    ],
}


def change_elsewhere(database: str, task_id: str, changes: list[Transition]) -> None:
    """Apply ``changes`` through a store of its own, as another process would."""

    async def apply() -> None:
        store = open_store(database)
        try:
            await store.open()
            for change in changes:
                assert await store.transition(task_id, change) is not None
        finally:
            await store.close()

    asyncio.run(apply())


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(tmp_path_factory.mktemp("fast-reads") / "data", run_engine=False)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def owner(reads: RunningGateway) -> Iterator[httpx.Client]:
    with reads.client(reads.make_key("owner")) as client:
        yield client


def submit(client: httpx.Client) -> str:
    created = client.post("/v1/tasks", json=BODY)
    assert created.status_code == 202, created.text
    task_id: str = created.json()["task_id"]
    return task_id


def answer(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """What a client sees of a response, less the date uvicorn stamps on it."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    return response.status_code, response.content, headers


def routed(client: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
    """The same read, answered by the dialect's route (a query string goes there)."""
    return client.get(path, params={"via": "route"}, **kwargs)


def reused(gateway: RunningGateway) -> int:
    count: int = gateway.app.state.task_reads.reused
    return count


@pytest.mark.parametrize("state", list(CHANGES))
def test_every_dialect_reads_as_its_route(
    reads: RunningGateway, owner: httpx.Client, state: str
) -> None:
    task_id = submit(owner)
    change_elsewhere(reads.settings.database, task_id, CHANGES[state])
    for dialect, template in PATHS.items():
        path = template.format(id=task_id)
        before = reused(reads)
        first = owner.get(path, headers=REQUEST_ID)
        again = owner.get(path, headers=REQUEST_ID)
        expected = routed(owner, path, headers=REQUEST_ID)
        assert expected.status_code == 200, (dialect, expected.text)
        assert answer(first) == answer(expected), dialect
        assert answer(again) == answer(expected), dialect
        assert reused(reads) == before + 1, f"{dialect}: the second read was not reused"


def test_a_change_by_another_process_is_read_at_once(
    reads: RunningGateway, owner: httpx.Client
) -> None:
    task_id = submit(owner)
    native, dashscope = (PATHS[d].format(id=task_id) for d in ("native", "dashscope"))
    for _ in range(2):
        assert owner.get(native).json()["status"] == "queued"
        assert owner.get(dashscope).json()["output"]["task_status"] == "PENDING"
    change_elsewhere(reads.settings.database, task_id, CHANGES["processing"])
    assert owner.get(native).json()["status"] == "processing"
    assert owner.get(dashscope).json()["output"]["task_status"] == "RUNNING"
    change = Transition([Status.PROCESSING], Status.COMPLETED, result=RESULT, usage=USAGE)
    change_elsewhere(reads.settings.database, task_id, [change])
    read = owner.get(native).json()
    assert read["status"] == "completed"
    assert read["result"]["video_url"]


def test_a_cancel_through_the_api_is_read_at_once(owner: httpx.Client) -> None:
    task_id = submit(owner)
    path = PATHS["kik"].format(id=task_id)
    assert owner.get(path).json()["task_status"] == owner.get(path).json()["task_status"]
    assert owner.post(f"/v1/tasks/{task_id}/cancel").status_code == 200
    assert owner.get(path).json()["task_status"] == routed(owner, path).json()["task_status"]
    assert routed(owner, path).json()["task_status"] != "pending"


def test_another_keys_task_reads_as_unknown(reads: RunningGateway, owner: httpx.Client) -> None:
    task_id = submit(owner)
    for template in PATHS.values():
        owner.get(template.format(id=task_id))  # the owner's read, kept for reuse
    with reads.client(reads.make_key("stranger")) as stranger:
        for dialect, template in PATHS.items():
            path = template.format(id=task_id)
            seen = stranger.get(path, headers=REQUEST_ID)
            assert answer(seen) == answer(routed(stranger, path, headers=REQUEST_ID)), dialect
            if dialect == "dashscope":
                assert seen.json()["output"]["task_status"] == "UNKNOWN"
            else:
                assert seen.status_code == 404, dialect
            assert "prompt" not in seen.text


@pytest.mark.parametrize("authorization", [None, "Bearer vg-not-a-key", "Basic abc"])
def test_refused_keys_answer_as_the_route(
    reads: RunningGateway, owner: httpx.Client, authorization: str | None
) -> None:
    task_id = submit(owner)
    headers = dict(REQUEST_ID)
    if authorization is not None:
        headers["Authorization"] = authorization
    with httpx.Client(base_url=reads.url, headers=headers) as anonymous:
        for dialect, template in PATHS.items():
            path = template.format(id=task_id)
            owner.get(path)
            seen = anonymous.get(path)
            assert seen.status_code == 401, (dialect, seen.text)
            assert answer(seen) == answer(routed(anonymous, path)), dialect


def test_an_unknown_id_and_other_paths_answer_as_the_route(owner: httpx.Client) -> None:
    for template in PATHS.values():
        path = template.format(id="no-such-task")
        seen = owner.get(path, headers=REQUEST_ID)
        assert answer(seen) == answer(routed(owner, path, headers=REQUEST_ID))
    assert owner.get("/v1/tasks/").status_code in (404, 405, 307, 200)
    task_id = submit(owner)
    waited = owner.get(f"/v1/tasks/{task_id}", params={"wait": "0.1"})
    assert waited.json()["status"] == "queued"
    bad_wait = owner.get(f"/v1/tasks/{task_id}", params={"wait": "x"})
    assert bad_wait.status_code == 400


def test_postgres_reads_see_another_process_at_once(postgres_url: str, tmp_path: Path) -> None:
    gateway = start_gateway(tmp_path / "data", database_url=postgres_url, run_engine=False)
    try:
        with gateway.client(gateway.make_key()) as client:
            task_id = submit(client)
            for dialect, template in PATHS.items():
                path = template.format(id=task_id)
                first, again = (
                    client.get(path, headers=REQUEST_ID),
                    client.get(path, headers=REQUEST_ID),
                )
                expected = routed(client, path, headers=REQUEST_ID)
                assert answer(first) == answer(again) == answer(expected), dialect
            path = PATHS["native"].format(id=task_id)
            change_elsewhere(postgres_url, task_id, CHANGES["processing"])
            assert client.get(path).json()["status"] == "processing"
            assert reused(gateway) >= len(PATHS)
    finally:
        gateway.stop()


def test_a_key_revoked_while_its_reads_are_kept_is_refused_at_once(reads: RunningGateway) -> None:
    secret = reads.make_key("soon-revoked")
    with (
        reads.client(secret) as user,
        reads.client(reads.make_key("revoker", admin=True)) as admin,
    ):
        task_id = submit(user)
        key_id = user.get("/v1/account").json()["key_id"]
        before = reused(reads)
        for template in PATHS.values():
            path = template.format(id=task_id)
            assert user.get(path, headers=REQUEST_ID).status_code == 200
            assert user.get(path, headers=REQUEST_ID).status_code == 200
        assert reused(reads) >= before + len(PATHS), "unchanged tasks are answered as kept"
        assert admin.post(f"/admin/v1/keys/{key_id}/revoke").status_code == 200
        for dialect, template in PATHS.items():
            path = template.format(id=task_id)
            seen = user.get(path, headers=REQUEST_ID)
            assert seen.status_code == 401, (dialect, seen.text)
            assert answer(seen) == answer(routed(user, path, headers=REQUEST_ID)), dialect


def test_reads_in_flight_together_see_a_change_made_before_they_were_sent(
    reads: RunningGateway,
) -> None:
    secret = reads.make_key("busy-poller")
    with reads.client(secret) as user:
        task_id = submit(user)
    path = PATHS["native"].format(id=task_id)
    headers = {"Authorization": f"Bearer {secret}"}

    async def poll_hard() -> list[str]:
        async with httpx.AsyncClient(base_url=reads.url, headers=headers) as client:

            async def statuses() -> list[str]:
                answers = await asyncio.gather(*(client.get(path) for _ in range(32)))
                return [answer.json()["status"] for answer in answers]

            assert set(await statuses()) == {"queued"}
            changing = asyncio.create_task(
                asyncio.to_thread(
                    change_elsewhere, reads.settings.database, task_id, CHANGES["processing"]
                )
            )
            while not changing.done():
                await statuses()  # reads answered while the change commits, either way
            await changing
            return await statuses()

    assert set(asyncio.run(poll_hard())) == {"processing"}
