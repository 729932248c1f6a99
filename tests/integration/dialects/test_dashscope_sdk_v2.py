"""The dashscope SDK's v2 client (`dashscope.Client`), its legacy list beside it, usage per Wan
family and the Wan 2.7 models, against a real gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dashscope
import httpx
import pytest
from dashscope import VideoSynthesis

from conftest import RunningGateway, png_bytes

SMALL: dict[str, Any] = {"resolution": "480P", "duration": 2}


@pytest.fixture
def pointed(gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGateway]:
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{gateway.url}/api/v1")
    yield gateway
    dashscope.close_shared_sync_session()


@pytest.fixture
def client(pointed: RunningGateway, key: str) -> Iterator[dashscope.Client]:
    with dashscope.Client(api_key=key, base_url=f"{pointed.url}/api/v1", max_retries=0) as made:
        yield made


def test_v2_jobs_list_reads_the_tasks(client: dashscope.Client, pointed: RunningGateway) -> None:
    job = client.videos.jobs.create(model="wan2.6-t2v", prompt="v2 waves", **SMALL)
    done = client.videos.jobs.wait(job, poll_interval=0.2)
    assert done.succeeded and done.video_url
    other = client.videos.jobs.create(model="wan2.6-t2v", prompt="second", **SMALL)

    page = client.videos.jobs.list(page_no=1, page_size=1)
    assert (page.total, page.page_no, page.page_size) == (2, 1, 1)
    assert [t.task_id for t in page.tasks] == [other.task_id]
    listed = {t.task_id: t for t in client.videos.jobs.list(page_size=10).tasks}
    assert set(listed) == {job.task_id, other.task_id}
    first = listed[job.task_id]
    assert first.status == "SUCCEEDED" and first.finished
    assert first.submitted_at and first.submitted_at <= (first.finished_at or "")
    assert first.video_url and first.video_url.split("?")[0] == done.video_url.split("?")[0]
    assert first.usage is not None and first.usage.model_dump()["SR"] == 480
    succeeded = client.videos.jobs.list(status="SUCCEEDED").tasks
    assert [t.task_id for t in succeeded] == [job.task_id]


def test_the_legacy_list_still_reads_data(pointed: RunningGateway, key: str) -> None:
    created = VideoSynthesis.async_call(model="wan2.6-t2v", prompt="legacy", api_key=key, **SMALL)
    listed = VideoSynthesis.list(api_key=key).output
    assert listed["total"] == 1 and listed["total_page"] == 1
    item = listed["data"][0]
    assert item["task_id"] == created.output.task_id
    assert item["model_name"] == "wan2.6-t2v" and isinstance(item["gmt_create"], int)


@pytest.mark.parametrize(
    ("model", "params", "usage"),
    [
        (
            "wan2.1-t2v-turbo",
            {"size": "832*480"},
            {"video_duration": 5, "video_ratio": "832*480", "video_count": 1},
        ),
        (
            "wan2.2-t2v-plus",
            {"size": "832*480"},
            {"duration": 5, "video_count": 1, "SR": 480},
        ),
        (
            "wan2.6-t2v",
            SMALL,
            {
                "duration": 2,
                "input_video_duration": 0,
                "output_video_duration": 2,
                "video_count": 1,
                "SR": 480,
                "ratio": "16:9",
            },
        ),
    ],
)
def test_usage_is_the_block_each_family_documents(
    pointed: RunningGateway, key: str, model: str, params: dict[str, Any], usage: dict[str, Any]
) -> None:
    done = VideoSynthesis.call(model=model, prompt="usage", api_key=key, **params)
    assert done.output.task_status == "SUCCEEDED", done
    with pointed.client(key) as api:
        wire = api.get(f"/api/v1/tasks/{done.output.task_id}").json()
    assert wire["usage"] == usage
    assert {name: done.usage[name] for name in usage} == usage
    if "video_duration" in usage:
        assert done.usage.video_duration == 5 and done.usage.video_ratio == "832*480"


def test_wan27_reference_to_video_completes(
    pointed: RunningGateway, key: str, tmp_path: Path
) -> None:
    with pointed.client(key) as api:
        red, blue = (
            api.post("/v1/files", files={"file": ("f.png", png_bytes(c), "image/png")}).json()[
                "url"
            ]
            for c in ((200, 40, 40), (20, 40, 220))
        )
    done = VideoSynthesis.call(
        model="wan2.7-r2v",
        prompt="Image 1 greets Image 2",
        media=[{"type": "reference_image", "url": red}, {"type": "reference_image", "url": blue}],
        resolution="720P",
        duration=2,
        api_key=key,
    )
    assert done.status_code == 200, done
    assert done.output.task_status == "SUCCEEDED"
    assert done.usage["SR"] == 720 and done.usage["ratio"] == "16:9"
    assert httpx.get(done.output.video_url).status_code == 200
    with pointed.client(key) as api:
        task = api.get(f"/v1/tasks/{done.output.task_id}").json()
    assert (task["mode"], task["model"], task["size"]) == ("r2v", "wan2.7-r2v", "1280*720")


def test_wan27_models_are_listed_and_check_their_inputs(pointed: RunningGateway, key: str) -> None:
    with pointed.client(key) as api:
        models = {m["id"]: m for m in api.get("/v1/models").json()["data"]}
    assert models["wan2.7-r2v"]["durations"] == list(range(2, 11))
    assert models["wan2.7-i2v"]["resolutions"] == ["720P", "1080P"]
    assert {"wan2.7-t2v", "wan2.7-i2v", "wan2.7-r2v"} <= set(models)
    bad = VideoSynthesis.async_call(
        model="wan2.7-i2v", prompt="p", media=[{"type": "poster", "url": "x"}], api_key=key
    )
    assert bad.status_code == 400 and "input.media[0].type" in bad.message
    long = VideoSynthesis.async_call(
        model="wan2.7-r2v",
        prompt="p",
        media=[{"type": "reference_image", "url": "https://example.com/a.png"}],
        duration=15,
        api_key=key,
    )
    assert long.status_code == 400 and "duration" in long.message


def test_the_wan27_example_in_the_docs_runs(
    pointed: RunningGateway, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (Path(__file__).parents[3] / "docs" / "dialects.md").read_text()
    blocks = [b.split("```")[0] for b in text.split("```python\n")[1:]]
    example = next(b for b in blocks if "wan2.7-r2v" in b)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIDGATE_API_KEY", key)
    printed: list[str] = []
    namespace: dict[str, Any] = {"print": lambda *a: printed.append(" ".join(map(str, a)))}
    exec(compile(example.replace("http://127.0.0.1:8000", pointed.url), "dialects.md", "exec"),
         namespace)  # fmt: skip
    assert printed and printed[0].startswith("SUCCEEDED http")
