"""The official openai SDK's videos resource against the gateway, by base URL and key only."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image

from conftest import RunningGateway, png_bytes

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")
SMALL: dict[str, Any] = {"model": "wan2.6-t2v", "seconds": "2", "size": "832x480"}
Connect = Callable[[RunningGateway, str], openai.OpenAI]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Opens openai clients on a gateway, and closes them afterwards."""
    opened: list[openai.OpenAI] = []

    def make(gateway: RunningGateway, key: str) -> openai.OpenAI:
        client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def test_sora_with_an_uploaded_reference_polls_to_completion_and_downloads(
    gateway: RunningGateway, key: str, connect: Connect
) -> None:
    client = connect(gateway, key)
    video = client.videos.create_and_poll(
        model="sora-2",
        prompt="The cat turns its head",
        seconds="4",
        size="720x1280",
        input_reference=("cat.png", png_bytes(), "image/png"),
    )
    assert video.status == "completed", video
    assert (video.object, video.model, video.seconds, video.size) == (
        "video",
        "sora-2",
        "4",
        "720x1280",
    )
    assert video.progress == 100
    assert video.created_at <= (video.completed_at or 0) < (video.expires_at or 0)
    assert client.videos.retrieve(video.id).status == "completed"
    with gateway.client(key) as api:
        native = api.get(f"/v1/tasks/{video.id}").json()
    assert (native["mode"], native["provider"]) == ("i2v", "local")

    mp4 = client.videos.download_content(video.id).content
    with av.open(io.BytesIO(mp4)) as container:
        context = container.streams.video[0].codec_context
        assert (context.name, context.width, context.height) == ("h264", 720, 1280)
    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert (image.format, image.size) == ("WEBP", (720, 1280))
    sheet = client.videos.download_content(video.id, variant="spritesheet")
    with Image.open(io.BytesIO(sheet.content)) as image:
        assert (image.format, image.size) == ("JPEG", (4 * 256, 3 * 455))
    again = client.videos.download_content(video.id, variant="spritesheet").content
    assert again == sheet.content


async def test_async_client_polls_with_the_servers_hint(gateway: RunningGateway, key: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key) as client:
        raw = await client.videos.with_raw_response.create(prompt="rain", **SMALL)
        created = raw.parse()
        assert created.status == "queued"
        assert raw.headers["openai-poll-after-ms"] == "1000"
        done = await client.videos.poll(created.id)
        assert done.status == "completed"
        assert (
            "openai-poll-after-ms"
            not in (await client.videos.with_raw_response.retrieve(done.id)).headers
        )
        assert len((await client.videos.download_content(done.id)).content) > 1000


def test_list_pages_by_cursor_in_both_orders(gateway_factory: Any, connect: Connect) -> None:
    idle = gateway_factory(run_engine=False)
    key = idle.make_key()
    client = connect(idle, key)
    ids = [client.videos.create(prompt=f"p{i}", **SMALL).id for i in range(3)]
    first = client.videos.list(limit=2)
    assert [v.id for v in first.data] == ids[::-1][:2]
    assert first.has_more is True and first.last_id == ids[1]
    assert [v.id for v in first.get_next_page().data] == [ids[0]]
    assert [v.id for v in client.videos.list(limit=2)] == ids[::-1]
    assert [v.id for v in client.videos.list(order="asc", limit=1)] == ids
    with idle.client(key) as api:
        page = api.get("/v1/videos", params={"order": "asc", "after": ids[0]}).json()
    assert page["object"] == "list"
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[1], ids[2], False)
    assert list(connect(idle, idle.make_key("other")).videos.list()) == []


def test_delete_cancels_unfinished_and_removes_finished_videos(
    gateway: RunningGateway, gateway_factory: Any, key: str, connect: Connect
) -> None:
    idle = gateway_factory(run_engine=False)
    idle_client = connect(idle, idle.make_key())
    queued = idle_client.videos.create(prompt="never", **SMALL)
    deleted = idle_client.videos.delete(queued.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (queued.id, "video.deleted", True)
    cancelled = idle_client.videos.retrieve(queued.id)
    assert cancelled.status == "failed"
    assert cancelled.error is not None and cancelled.error.code == "cancelled"

    with pytest.raises(openai.ConflictError) as never:
        idle_client.videos.download_content(queued.id)
    assert never.value.code == "video_cancelled"
    assert "was cancelled" in never.value.message

    client = connect(gateway, key)
    done = client.videos.create_and_poll(prompt="gone soon", **SMALL)
    kept = client.videos.create_and_poll(prompt="kept", **SMALL)
    client.videos.download_content(done.id, variant="thumbnail")
    blobs = gateway.settings.data_dir
    before = {p.name for p in blobs.rglob("*") if p.is_file()}
    assert client.videos.delete(done.id).deleted is True
    for call in (client.videos.retrieve, client.videos.download_content, client.videos.delete):
        with pytest.raises(openai.NotFoundError) as gone:
            call(done.id)
        assert gone.value.type == "invalid_request_error"
    assert [v.id for v in client.videos.list()] == [kept.id]
    with gateway.client(key) as api:
        assert api.get(f"/v1/tasks/{done.id}").status_code == 404
        assert [t["task_id"] for t in api.get("/v1/tasks").json()["data"]] == [kept.id]
    removed = before - {p.name for p in blobs.rglob("*") if p.is_file()}
    assert any(name.endswith(".mp4") for name in removed), removed
    assert any(name.endswith(".thumbnail.webp") for name in removed), removed
    assert client.videos.retrieve(kept.id).status == "completed"


def test_errors_answer_in_openai_shape(gateway_factory: Any, connect: Connect) -> None:
    idle = gateway_factory(run_engine=False)
    key = idle.make_key()
    client = connect(idle, key)
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        connect(idle, "vg-wrong").videos.list()
    assert unauthorized.value.status_code == 401
    assert unauthorized.value.code == "invalid_api_key"

    with pytest.raises(openai.BadRequestError) as bad_seconds:
        client.videos.create(prompt="x", seconds="5")  # type: ignore[arg-type]
    assert (bad_seconds.value.param, bad_seconds.value.type) == ("seconds", "invalid_request_error")
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.videos.create(prompt="x", size="640x480")  # type: ignore[arg-type]
    assert bad_size.value.param == "size"
    with pytest.raises(openai.BadRequestError) as unknown:
        client.videos.create(prompt="x", extra_body={"style": "noir"})
    assert unknown.value.param == "style"

    queued = client.videos.create(prompt="waiting", **SMALL)
    started = time.monotonic()
    with pytest.raises(openai.ConflictError) as not_ready:
        client.videos.download_content(queued.id)
    assert time.monotonic() - started < 0.5, "a 409 here must not be retried"
    assert not_ready.value.code == "video_not_ready"
    assert not_ready.value.response.headers["x-should-retry"] == "false"

    with pytest.raises(openai.NotFoundError) as foreign:
        connect(idle, idle.make_key("other")).videos.retrieve(queued.id)
    assert foreign.value.body == {
        "message": f"No task {queued.id!r} for this key.",
        "type": "invalid_request_error",
        "param": "video_id",
        "code": "not_found",
    }
    with idle.client(key) as api:
        for params, name in (({"variant": "poster"}, "variant"),):
            response = api.get(f"/v1/videos/{queued.id}/content", params=params)
            assert response.status_code == 400 and response.json()["error"]["param"] == name
        for params, name in (({"order": "up"}, "order"), ({"limit": 0}, "limit")):
            response = api.get("/v1/videos", params=params)
            assert response.status_code == 400 and response.json()["error"]["param"] == name
        by_id = api.post("/v1/videos", json={"prompt": "x", "input_reference": {"file_id": "f"}})
        assert by_id.status_code == 400 and by_id.json()["error"]["param"] == "input_reference"
        not_image = api.post(
            "/v1/videos",
            data={"prompt": "x"},
            files={"input_reference": ("a.txt", b"hello", "text/plain")},
        )
        assert not_image.status_code == 400
        assert not_image.json()["error"]["param"] == "input_reference"
        not_json = api.post("/v1/videos", content=b"prompt=x")
        assert not_json.status_code == 400 and not_json.json()["error"]["type"]


def test_json_create_takes_an_image_url(gateway_factory: Any) -> None:
    idle = gateway_factory(run_engine=False)
    key = idle.make_key()
    with idle.client(key) as api:
        image = api.post("/v1/files", files={"file": ("a.png", png_bytes(), "image/png")})
        created = api.post(
            "/v1/videos",
            json={"prompt": "zoom", "input_reference": {"image_url": image.json()["url"]}},
        )
        assert created.status_code == 200, created.text
        body = created.json()
        assert (body["status"], body["model"], body["seconds"], body["size"]) == (
            "queued",
            "sora-2",
            "4",
            "720x1280",
        )
        assert api.get(f"/v1/tasks/{body['id']}").json()["mode"] == "i2v"
        unreachable = api.post(
            "/v1/videos", json={"prompt": "zoom", "input_reference": "http://127.0.0.1:9/x.png"}
        )
        assert unreachable.status_code == 400
        assert unreachable.json()["error"]["param"] == "input_reference"
    assert httpx.get(f"{idle.url}/v1/videos").status_code == 401
