"""One client for every dialect: seed-literal servers, and the gateway's own dialect routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from client_servers import VIDEO, SeedServer, serve

import vidgate
from conftest import RunningGateway
from vidgate.client import without_backoff
from vidgate.models import Status, Task


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with without_backoff():
        yield


@pytest.fixture
def seeds() -> Iterator[tuple[SeedServer, str]]:
    server = SeedServer()
    with serve(server.app()) as url:
        server.base = url
        yield server, url


BASES = {"dashscope": "/api/v1", "kik": "", "nebula": ""}
WORDS = {
    "dashscope": ["PENDING", "RUNNING", "SUSPENDED", "RUNNING", "SUCCEEDED"],
    "kik": ["pending", "running", "rendering", "running", "success"],
    "nebula": ["queued", "in_progress", "moderation", "in_progress", "succeeded"],
}


@pytest.mark.parametrize("provider", sorted(BASES))
def test_each_dialect_runs_to_a_video_through_an_unknown_status(
    provider: str, seeds: tuple[SeedServer, str], tmp_path: Path
) -> None:
    server, url = seeds
    seen: list[Task] = []
    with vidgate.Client(url + BASES[provider], "sk-test", provider=provider, environ={}) as sdk:
        task = sdk.create(prompt="odd", duration=5)
        done = sdk.wait(task, on_progress=seen.append)
        path = sdk.download(done, tmp_path)
    words = [sdk.dialect.word(t) for t in [task, *seen]]
    assert words == WORDS[provider]
    odd = seen[1]
    assert odd.status is Status.PROCESSING and odd.error is None
    assert done.status is Status.COMPLETED and path.read_bytes() == VIDEO
    _, route, headers, body = server.requests[0]
    assert headers["authorization"] == "Bearer sk-test"
    assert body is not None
    if provider == "dashscope":
        assert route == "/api/v1/services/aigc/video-generation/video-synthesis"
        assert headers["x-dashscope-async"] == "enable"
        assert body == {
            "model": "wan2.6-t2v",
            "input": {"prompt": "odd"},
            "parameters": {"duration": 5},
        }
    else:
        assert body == {"prompt": "odd", "duration": 5, "model": "wan2.6-t2v"}


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("dashscope", "Input data may contain inappropriate content."),
        ("kik", "upstream video generation task failed"),
        ("nebula", "Prompt contains inappropriate content"),
    ],
)
def test_each_dialect_reports_its_failure(
    provider: str, message: str, seeds: tuple[SeedServer, str]
) -> None:
    _, url = seeds
    with (
        vidgate.Client(url + BASES[provider], "sk", provider=provider, environ={}) as sdk,
        pytest.raises(vidgate.TaskFailed) as caught,
    ):
        sdk.wait(sdk.create(prompt="fail"))
    failed = caught.value.task
    assert failed.status is Status.FAILED and failed.error is not None
    assert failed.error.message == message


def test_dashscope_kf2v_posts_to_image2video(seeds: tuple[SeedServer, str]) -> None:
    server, url = seeds
    with vidgate.Client(url, "sk", provider="dashscope", environ={}) as sdk:
        task = sdk.create(prompt="turn", first_frame_url="https://example.com/a.png")
    assert task.model == "wan2.2-kf2v-flash"
    assert server.requests[0][1] == "/api/v1/services/aigc/image2video/video-synthesis"


@pytest.mark.parametrize(
    ("provider", "base", "words"),
    [
        ("dashscope", "/api/v1", {"PENDING", "SUCCEEDED"}),
        ("kik", "", {"success"}),
        ("nebula", "", {"succeeded"}),
        ("openai", "/v1", {"completed"}),
    ],
)
def test_the_gateways_dialect_routes_serve_the_same_tasks(
    provider: str, base: str, words: set[str], gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    seen: list[str] = []
    small = {"size": "832*480"} if provider == "openai" else {"resolution": "480P"}
    with vidgate.Client(gateway.url + base, key, provider=provider, environ={}) as sdk:
        task = sdk.create(prompt="A cat", model="wan2.6-t2v", duration=2, **small)
        done = sdk.wait(
            task, poll_interval=0.2, on_progress=lambda t: seen.append(sdk.dialect.word(t))
        )
        path = sdk.download(done, tmp_path)
    assert done.status is Status.COMPLETED and done.task_id == task.task_id
    assert words <= {sdk.dialect.word(task), *seen}
    assert path.read_bytes()[4:8] == b"ftyp"
