"""The SDK against a real gateway on loopback: every method, sync and async."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import vidgate
from conftest import RunningGateway, png_bytes
from vidgate.blobs import LocalBlobStore, load_secret
from vidgate.client import without_backoff
from vidgate.models import Mode, Status, Task

SMALL = {"prompt": "A cat running across a meadow", "duration": 2, "resolution": "480P"}


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with without_backoff():
        yield


@pytest.fixture
def client(gateway: RunningGateway, key: str) -> Iterator[vidgate.Client]:
    with vidgate.Client(gateway.url, key, environ={}) as sdk:
        yield sdk


def test_create_wait_download_with_one_event_stream(
    gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    sent: list[str] = []
    hooks = {"request": [lambda r: sent.append(f"{r.method} {r.url.path}")]}
    seen: list[tuple[Status, int]] = []
    with (
        httpx.Client(event_hooks=hooks) as http,
        vidgate.Client(gateway.url, key, environ={}, http_client=http) as sdk,
    ):
        task = sdk.create(SMALL)
        assert (task.status, task.mode, task.model) == (Status.QUEUED, Mode.T2V, "wan2.6-t2v")
        done = sdk.wait(task, timeout=60, on_progress=lambda t: seen.append((t.status, t.progress)))
        path = sdk.download(done, tmp_path)
    assert done.status is Status.COMPLETED and done.result is not None
    assert done.finished_at is not None and done.usage is not None
    assert seen[-1] == (Status.COMPLETED, 100)
    assert (Status.PROCESSING, 0) in seen or any(s is Status.PROCESSING for s, _ in seen)
    assert sent[:2] == ["POST /v1/tasks", f"GET /v1/tasks/{task.task_id}/events"]
    assert len(sent) == 3 and sent[2].startswith("GET /v1/media/")
    assert path.read_bytes()[4:8] == b"ftyp"


def test_get_list_and_cancel(gateway_factory: Callable[..., RunningGateway]) -> None:
    gateway = gateway_factory(run_engine=False)
    with vidgate.Client(gateway.url, gateway.make_key(), environ={}) as sdk:
        first = sdk.create(SMALL)
        second = sdk.create(prompt="Waves at dusk", duration=2)
        assert sdk.get(first.task_id).status is Status.QUEUED
        page = sdk.list(limit=1)
        assert [t.task_id for t in page.data] == [second.task_id] and page.has_more
        assert [t.task_id for t in sdk.list(after=page.next_after).data] == [first.task_id]
        cancelled = sdk.cancel(first.task_id)
        assert cancelled.status is Status.CANCELLED
        assert [t.task_id for t in sdk.list(status=Status.CANCELLED).data] == [first.task_id]
        with pytest.raises(vidgate.TaskCancelled) as caught:
            sdk.wait(first.task_id)
        assert caught.value.task.error is not None
        with pytest.raises(vidgate.ConflictError) as conflict:
            sdk.cancel(first.task_id)
        assert conflict.value.code == "task_not_cancellable" and conflict.value.request_id
        with pytest.raises(vidgate.NotFoundError):
            sdk.get("no-such-task")


def test_create_is_idempotent_under_one_key(client: vidgate.Client) -> None:
    first = client.create(SMALL, idempotency_key="order-42")
    again = client.create(SMALL, idempotency_key="order-42")
    assert again.task_id == first.task_id
    with pytest.raises(vidgate.ConflictError) as caught:
        client.create({**SMALL, "prompt": "Another"}, idempotency_key="order-42")
    assert caught.value.code == "idempotency_key_reused"


def test_wait_times_out_with_the_task_id(gateway_factory: Callable[..., RunningGateway]) -> None:
    gateway = gateway_factory(run_engine=False)
    with vidgate.Client(gateway.url, gateway.make_key(), environ={}) as sdk:
        task = sdk.create(SMALL)
        started = time.monotonic()
        with pytest.raises(vidgate.WaitTimeout) as caught:
            sdk.wait(task, timeout=0.3, poll_interval=0.1)
        assert time.monotonic() - started < 2
    error = caught.value
    assert error.task_id == task.task_id and error.task is not None
    assert error.task.status is Status.QUEUED and error.polls >= 1


def test_local_files_are_uploaded_before_the_submit(client: vidgate.Client, tmp_path: Path) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(png_bytes((20, 120, 220)))
    generated = client.generate(
        img_url=str(image), prompt="zoom", duration=2, resolution="480P", output=tmp_path
    )
    assert generated.task.mode is Mode.I2V
    assert generated.path.stat().st_size > 0


def test_an_expired_url_fails_with_how_to_get_a_fresh_one(
    gateway: RunningGateway, client: vidgate.Client, tmp_path: Path
) -> None:
    done = client.wait(client.create(SMALL), timeout=60)
    assert done.result is not None
    settings = gateway.settings
    blobs = LocalBlobStore(
        settings.blob_dir, load_secret(settings.data_dir, settings.secret_key), settings.base_url
    )
    name = done.result.video_url.split("/v1/media/")[1].split("?")[0]
    expired = blobs.sign(name, 60, now=time.time() - 3600).url
    stale = done.model_copy(
        update={"result": done.result.model_copy(update={"video_url": expired})}
    )
    with pytest.raises(vidgate.URLExpiredError, match=r"client\.get\(task_id\)") as caught:
        client.download(stale, tmp_path)
    assert caught.value.status_code == 410 and caught.value.code == "url_expired"
    assert client.download(done.task_id, tmp_path / "fresh.mp4").stat().st_size > 0


async def test_async_generate_list_and_get(
    gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    seen: list[Task] = []

    async def record(task: Task) -> None:
        seen.append(task)

    async with vidgate.AsyncClient(gateway.url, key, environ={}) as sdk:
        generated = await sdk.generate(SMALL, output=tmp_path, on_progress=record)
        assert seen[0].status is Status.QUEUED and seen[-1].status is Status.COMPLETED
        assert (await sdk.get(generated.task.task_id)).status is Status.COMPLETED
        assert (await sdk.list()).data[0].task_id == generated.task.task_id
    assert generated.path.parent == tmp_path


async def test_cancelling_a_wait_keeps_the_task_running(gateway: RunningGateway, key: str) -> None:
    async with vidgate.AsyncClient(gateway.url, key, environ={}) as sdk:
        task = await sdk.create({**SMALL, "duration": 4})
        with anyio.move_on_after(0.2) as scope:
            await sdk.wait(task)
        assert scope.cancelled_caught
        assert (await sdk.get(task.task_id)).status in (Status.QUEUED, Status.PROCESSING)

        started = anyio.Event()

        async def watch(current: Task) -> None:
            if current.status is Status.PROCESSING:
                started.set()

        async with anyio.create_task_group() as group:
            group.start_soon(_wait_quietly, sdk, task, watch)
            await started.wait()
            group.cancel_scope.cancel()
        done = await sdk.wait(task.task_id, timeout=60)
    assert done.status is Status.COMPLETED


async def _wait_quietly(sdk: vidgate.AsyncClient, task: Task, watch: Any) -> None:
    await sdk.wait(task, on_progress=watch)
