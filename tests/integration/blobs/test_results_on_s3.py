"""Results on S3: one node renders, another on its own data dir serves them; retention
deletes them from either backend, after which the result URL answers 410."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conftest import RunningGateway, start_gateway, wait_terminal
from vidgate.blobs import open_blobs
from vidgate.blobs.results import THUMBNAIL_SUFFIX, preview_name

if TYPE_CHECKING:
    from seaweed import S3Target

pytest_plugins = ["seaweed"]  # the s3_server and s3_blob_url fixtures

SECRET = "one-secret-for-every-node"
TASK = {"prompt": "a lighthouse at dusk", "duration": 2, "resolution": "480P"}


@pytest.fixture
def nodes(tmp_path: Path, s3_blob_url: S3Target) -> Iterator[tuple[RunningGateway, ...]]:
    """A worker gateway and a second gateway with no engine, each on its own data dir, on
    one database and one bucket."""
    shared: dict[str, Any] = {"secret_key": SECRET, **s3_blob_url.settings}
    worker = start_gateway(tmp_path / "worker", **shared)
    front = start_gateway(
        tmp_path / "front", database_url=worker.settings.database, run_engine=False, **shared
    )
    yield worker, front
    front.stop()
    worker.stop()


def test_a_result_rendered_on_one_node_downloads_from_another(
    nodes: tuple[RunningGateway, RunningGateway],
) -> None:
    worker, front = nodes
    key = worker.make_key()
    with worker.client(key) as on_worker, front.client(key) as on_front:
        task_id = on_worker.post("/v1/tasks", json=TASK).json()["task_id"]
        wait_terminal(on_worker, task_id)
        worker_url = on_worker.get(f"/v1/tasks/{task_id}").json()["result"]["video_url"]
        body = on_front.get(f"/v1/tasks/{task_id}").json()
        assert body["status"] == "completed"
        front_url = body["result"]["video_url"]
        assert front_url.startswith(front.url)
        video = httpx.get(front_url, timeout=30)
        assert video.status_code == 200, video.text
        assert video.headers["content-type"] == "video/mp4"
        assert video.content[4:8] == b"ftyp"
        assert video.content == httpx.get(worker_url, timeout=30).content
        part = httpx.get(front_url, headers={"Range": "bytes=100-199"}, timeout=30)
        assert (part.status_code, part.content) == (206, video.content[100:200])
        # A URL the worker signed works on the other node, as both sign with one secret.
        moved = front.url + httpx.URL(worker_url).raw_path.decode()
        assert httpx.get(moved, timeout=30).content == video.content
        thumbnail = on_front.get(f"/v1/videos/{task_id}/content", params={"variant": "thumbnail"})
        assert thumbnail.status_code == 200
        assert thumbnail.headers["content-type"] == "image/webp"
    assert not any((front.settings.blob_dir).rglob("*.mp4.*")), "no scratch file left"


def _blob_names(url: str) -> tuple[str, str]:
    video = httpx.URL(url).path.rsplit("/", 1)[1]
    return video, preview_name(video, THUMBNAIL_SUFFIX)


async def _stored(gateway: RunningGateway, names: tuple[str, ...]) -> list[bool]:
    """Whether each blob is there, seen through a store of the test's own."""
    blobs = await open_blobs(gateway.settings)
    return [await blobs.exists(name) for name in names]


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_results_past_their_retention_are_deleted(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings: dict[str, Any] = {}
    if backend == "s3":
        settings = dict(request.getfixturevalue("s3_blob_url").settings)
    gateway = start_gateway(tmp_path / "data", **settings)
    try:
        with gateway.client(gateway.make_key()) as api:
            task_id = api.post("/v1/tasks", json=TASK).json()["task_id"]
            url = wait_terminal(api, task_id)["result"]["video_url"]
            assert httpx.get(url, timeout=30).status_code == 200
            preview = api.get(f"/v1/videos/{task_id}/content", params={"variant": "thumbnail"})
            assert preview.status_code == 200
            names = _blob_names(url)
            assert asyncio.run(_stored(gateway, names)) == [True, True]

            gateway.runtime.settings.result_retention = 1
            deadline = time.monotonic() + 20
            while httpx.get(url, timeout=30).status_code != 410:
                assert time.monotonic() < deadline, "the result outlived its retention"
                time.sleep(0.2)
            assert asyncio.run(_stored(gateway, names)) == [False, False]
            gone = api.get(f"/v1/videos/{task_id}/content", params={"variant": "thumbnail"})
            assert gone.status_code == 404
            assert api.get(f"/v1/tasks/{task_id}").json()["status"] == "completed"
    finally:
        gateway.stop()
