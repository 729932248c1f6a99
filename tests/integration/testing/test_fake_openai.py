"""The OpenAI fake answers as `/v1/videos` does: video objects, downloads, lists, errors."""

from __future__ import annotations

import io
from collections.abc import Iterator

import av
import httpx
import pytest
from fake_clients import KEY, fast, serving, slow
from PIL import Image

from vidgate.testing import FakeUpstream, ManualClock

VIDEO_FIELDS = [
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "seconds",
    "size",
    "error",
    "remixed_from_video_id",
]
CREATE = {"model": "sora-2", "prompt": "A calico cat playing a piano", "seconds": "8"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def openai(clock: ManualClock) -> Iterator[tuple[FakeUpstream, httpx.Client]]:
    with serving("openai", timing=slow(), clock=clock) as pair:
        yield pair


def test_a_video_walks_queued_in_progress_completed(
    openai: tuple[FakeUpstream, httpx.Client], clock: ManualClock
) -> None:
    _, client = openai
    created = client.post("/videos", json=CREATE)
    assert created.status_code == 200
    video = created.json()
    assert [k for k in video if k in VIDEO_FIELDS] == VIDEO_FIELDS
    assert video["object"] == "video"
    assert video["id"].startswith("video_")
    assert (video["status"], video["progress"], video["seconds"], video["size"]) == (
        "queued",
        0,
        "8",
        "720x1280",
    )
    assert video["completed_at"] is None and video["error"] is None
    path = f"/videos/{video['id']}"

    queued = client.get(path)
    assert int(queued.headers["openai-poll-after-ms"]) > 0
    clock.advance(40)
    running = client.get(path).json()
    assert running["status"] == "in_progress"
    assert 0 < running["progress"] < 100
    clock.advance(40)
    done = client.get(path)
    assert "openai-poll-after-ms" not in done.headers
    body = done.json()
    assert (body["status"], body["progress"]) == ("completed", 100)
    assert body["completed_at"] >= body["created_at"]
    assert body["expires_at"] == body["completed_at"] + 24 * 3600


def test_multipart_create_with_an_input_reference_file(
    openai: tuple[FakeUpstream, httpx.Client],
) -> None:
    fake, client = openai
    response = client.post(
        "/videos",
        data={"model": "sora-2-pro", "prompt": "animate", "size": "1280x720", "seconds": "4"},
        files={"input_reference": ("first.png", b"\x89PNG fake", "image/png")},
    )
    assert response.status_code == 200, response.text
    task = fake.tasks[response.json()["id"]]
    assert task.request.img_url == "upload://first.png"
    assert task.body["input_reference"] == {
        "filename": "first.png",
        "content_type": "image/png",
        "bytes": 9,
    }
    assert (task.width, task.height, task.duration) == (1280, 720, 4)


@pytest.mark.parametrize(
    ("field", "value"), [("seconds", "5"), ("size", "640x480"), ("model", "sora-9")]
)
def test_invalid_values_answer_openai_errors(field: str, value: str) -> None:
    with serving("openai", models=["sora-2", "sora-2-pro"]) as (_, client):
        response = client.post("/videos", json={**CREATE, field: value})
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        field,
        "invalid_value",
    )
    assert error["message"].startswith(f"Invalid value: '{value}'.")


def test_keys_and_unknown_ids() -> None:
    with serving("openai", key="bad", keys=["good"]) as (_, client):
        refused = client.get("/videos/video_x")
        missing = client.get("/videos/video_x", headers={"Authorization": "Bearer good"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"


def test_content_variants_and_ranges() -> None:
    with serving("openai", timing=fast()) as (_, client):
        video_id = client.post("/videos", json=CREATE).json()["id"]
        full = client.get(f"/videos/{video_id}/content")
        part = client.get(f"/videos/{video_id}/content", headers={"Range": "bytes=0-99"})
        thumbnail = client.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
        sprites = client.get(f"/videos/{video_id}/content", params={"variant": "spritesheet"})
        bad = client.get(f"/videos/{video_id}/content", params={"variant": "gif"})
    assert full.status_code == 200
    assert full.headers["content-type"] == "video/mp4"
    assert int(full.headers["content-length"]) == len(full.content)
    with av.open(io.BytesIO(full.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert part.status_code == 206
    assert part.content == full.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(full.content)}"
    assert Image.open(io.BytesIO(thumbnail.content)).format == "WEBP"
    assert Image.open(io.BytesIO(sprites.content)).format == "JPEG"
    assert bad.status_code == 400


def test_content_before_completion_is_not_found(
    openai: tuple[FakeUpstream, httpx.Client],
) -> None:
    _, client = openai
    video_id = client.post("/videos", json=CREATE).json()["id"]
    assert client.get(f"/videos/{video_id}/content").status_code == 404


def test_list_pages_and_delete(openai: tuple[FakeUpstream, httpx.Client]) -> None:
    fake, client = openai
    ids = [client.post("/videos", json=CREATE).json()["id"] for _ in range(3)]
    first = client.get("/videos", params={"limit": 2}).json()
    assert first["object"] == "list"
    assert [v["id"] for v in first["data"]] == ids[::-1][:2]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[2], ids[1], True)
    rest = client.get("/videos", params={"after": first["last_id"]}).json()
    assert [v["id"] for v in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False
    oldest = client.get("/videos", params={"order": "asc", "limit": 1}).json()
    assert oldest["data"][0]["id"] == ids[0]

    deleted = client.delete(f"/videos/{ids[0]}")
    assert deleted.json() == {"id": ids[0], "object": "video.deleted", "deleted": True}
    assert client.get(f"/videos/{ids[0]}").status_code == 404
    assert fake.counters.calls("DELETE /v1/videos/{video_id}") == 1


def test_remix_points_back_at_its_source() -> None:
    with serving("openai", timing=fast()) as (_, client):
        source = client.post("/videos", json=CREATE).json()["id"]
        remix = client.post(f"/videos/{source}/remix", json={"prompt": "in the rain"})
    assert remix.status_code == 200
    body = remix.json()
    assert body["remixed_from_video_id"] == source
    assert body["prompt"] == "in the rain"
    assert body["seconds"] == "8"


@pytest.mark.parametrize("code", ["video_generation_failed", "moderation_blocked"])
def test_failed_videos_carry_the_error(code: str) -> None:
    with serving("openai", timing=fast()) as (fake, client):
        fake.faults.fail_tasks(code)
        video = client.get(f"/videos/{client.post('/videos', json=CREATE).json()['id']}").json()
    assert video["status"] == "failed"
    assert video["error"]["code"] == code
    assert video["error"]["message"]


@pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")
def test_the_official_sdk_creates_polls_and_downloads() -> None:
    openai_sdk = pytest.importorskip("openai")
    with (
        serving("openai", timing=fast()) as (fake, _),
        openai_sdk.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0) as sdk,
    ):
        video = sdk.videos.create_and_poll(model="sora-2", prompt="A cat", seconds="4")
        assert video.status == "completed"
        data = sdk.videos.download_content(video.id).read()
        listed = sdk.videos.list()
        assert [v.id for v in listed.data] == [video.id]
        assert sdk.videos.delete(video.id).deleted is True
    assert data[4:8] == b"ftyp"
