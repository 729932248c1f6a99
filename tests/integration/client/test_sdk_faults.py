"""Retries, fallbacks and downloads against real servers that fail on purpose."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from client_servers import VIDEO, BreakingFiles, FlakyNative, serve

import vidgate
from conftest import free_port
from vidgate.client import without_backoff
from vidgate.models import Result, Status, Task


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with without_backoff():
        yield


@contextmanager
def counting_client(url: str, max_retries: int = 2) -> Iterator[tuple[vidgate.Client, list[str]]]:
    """A client on its own httpx client, with the requests it sends."""
    sent: list[str] = []
    hooks = {"request": [lambda r: sent.append(f"{r.method} {r.url}")]}
    with (
        httpx.Client(event_hooks=hooks) as http,
        vidgate.Client(url, "k", environ={}, http_client=http, max_retries=max_retries) as client,
    ):
        yield client, sent


def test_create_retries_429_and_503_with_one_idempotency_key() -> None:
    flaky = FlakyNative(failures=[(429, {"Retry-After": "30"}), (503, {})])
    with serve(flaky.app()) as url, vidgate.Client(url, "sk-test", environ={}) as client:
        task = client.create(prompt="retry me")
    assert task.task_id == "n1"
    assert flaky.seen == ["POST /v1/tasks"] * 3
    assert len(flaky.keys) == 1 and flaky.keys[0]


def test_retry_after_is_honoured_when_backoff_is_on() -> None:
    flaky = FlakyNative(failures=[(429, {"Retry-After": "0.4"})])
    with (
        without_backoff(False),
        serve(flaky.app()) as url,
        vidgate.Client(url, "sk-test", environ={}) as client,
    ):
        started = time.monotonic()
        client.create(prompt="slowly")
        assert time.monotonic() - started >= 0.4


def test_retries_run_out_into_a_typed_status_error() -> None:
    flaky = FlakyNative(failures=[(503, {})] * 3)
    with (
        serve(flaky.app()) as url,
        vidgate.Client(url, "sk-test", environ={}) as client,
        pytest.raises(vidgate.InternalServerError) as caught,
    ):
        client.create(prompt="never")
    error = caught.value
    assert (error.status_code, error.code, error.request_id) == (503, "busy", "req-503")
    assert isinstance(error, vidgate.APIStatusError)


def test_connection_refused_is_a_connection_error_after_the_retries() -> None:
    with (
        counting_client(f"http://127.0.0.1:{free_port()}", max_retries=3) as (client, sent),
        pytest.raises(vidgate.APIConnectionError),
    ):
        client.get("t1")
    assert len(sent) == 4


def test_connection_refused_then_up_succeeds() -> None:
    flaky = FlakyNative()
    port = free_port()
    attempts: list[httpx.Request] = []
    with ExitStack() as stack:

        def start_on_second_try(request: httpx.Request) -> None:
            attempts.append(request)
            if len(attempts) == 2:
                stack.enter_context(serve(flaky.app(), port))

        http = stack.enter_context(httpx.Client(event_hooks={"request": [start_on_second_try]}))
        url = f"http://127.0.0.1:{port}"
        client = stack.enter_context(vidgate.Client(url, "k", environ={}, http_client=http))
        task = client.create(prompt="patience")
    assert task.task_id == "n1"
    assert len(attempts) == 2 and flaky.seen == ["POST /v1/tasks"]


def test_wait_falls_back_to_polling_a_server_without_stream_or_long_poll() -> None:
    flaky = FlakyNative(polls_before_done=3)
    with serve(flaky.app()) as url, counting_client(url) as (client, sent):
        task = client.create(prompt="poll me")
        done = client.wait(task, timeout=10)
    assert done.status is Status.COMPLETED
    assert done.result == Result(video_url=f"{url}/v.mp4")
    paths = [line.split(" ", 1)[1].removeprefix(url) for line in sent[1:]]
    assert paths[0] == "/v1/tasks/n1/events"
    assert [p.split("=")[0] for p in paths[1:3]] == ["/v1/tasks/n1?wait"] * 2
    assert paths[3:] == ["/v1/tasks/n1", "/v1/tasks/n1"]


def test_wait_long_polls_and_returns_as_soon_as_the_task_ends() -> None:
    flaky = FlakyNative(long_poll=True)
    with serve(flaky.app()) as url, vidgate.Client(url, "sk-test", environ={}) as client:
        task = client.create(prompt="long poll")
        timer = threading.Timer(0.3, flaky.finish.set)
        timer.start()
        started = time.monotonic()
        done = client.wait(task, timeout=10)
        elapsed = time.monotonic() - started
    assert done.status is Status.COMPLETED
    assert 0.29 <= elapsed < 0.6
    assert flaky.seen[1:] == ["GET /v1/tasks/n1"]


def completed(url: str) -> Task:
    return Task(task_id="t1", status=Status.COMPLETED, result=Result(video_url=url))


def test_download_resumes_with_range_after_a_broken_connection(tmp_path: Path) -> None:
    with (
        BreakingFiles(VIDEO, breaks=2) as files,
        vidgate.Client("http://gateway.test", "sk-secret", environ={}) as client,
    ):
        path = client.download(completed(files.url), tmp_path)
    assert path == tmp_path / "t1.mp4"
    assert path.read_bytes() == VIDEO
    half = len(VIDEO) // 2
    assert files.ranges == [None, f"bytes={half}-", f"bytes={half + half // 2}-"]
    assert not any("authorization" in headers for headers in files.headers)
    assert not list(tmp_path.glob("*.part"))


def test_download_checks_the_announced_length(tmp_path: Path) -> None:
    with (
        BreakingFiles(VIDEO, breaks=0, extra=100) as files,
        vidgate.Client(environ={}) as client,
        pytest.raises(vidgate.IncompleteDownloadError, match=f"of {len(VIDEO) + 100}"),
    ):
        client.download(completed(files.url), tmp_path / "v.mp4")
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.iterdir())
