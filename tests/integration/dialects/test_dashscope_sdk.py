"""The official dashscope SDK against the gateway, changed only by base URL and key."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import av
import dashscope
import httpx
import pytest
from dashscope import VideoSynthesis
from dashscope.aigc.video_synthesis import AioVideoSynthesis

from conftest import RunningGateway, png_bytes

TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
SMALL: dict[str, Any] = {"model": "wan2.6-t2v", "resolution": "480P", "duration": 2}
SYNTHESIS = "/api/v1/services/aigc/video-generation/video-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}


Point = Callable[[str], None]


@pytest.fixture
def point(monkeypatch: pytest.MonkeyPatch) -> Iterator[Point]:
    """Sets the SDK's base URL to a gateway's, as a user would; closes its pool afterwards."""

    def to(url: str) -> None:
        monkeypatch.setattr(dashscope, "base_http_api_url", f"{url}/api/v1")

    yield to
    dashscope.close_shared_sync_session()


def video_facts(data: bytes) -> tuple[str, int, int]:
    with av.open(io.BytesIO(data)) as container:
        context = container.streams.video[0].codec_context
        return context.name, context.width, context.height


def test_submit_wait_fetch_and_download(gateway: RunningGateway, key: str, point: Point) -> None:
    point(gateway.url)
    created = VideoSynthesis.async_call(
        prompt="A cat running across a meadow", api_key=key, **SMALL
    )
    assert created.status_code == 200, created
    assert created.output.task_status == "PENDING"
    assert created.request_id

    done = VideoSynthesis.wait(created, api_key=key)
    assert done.status_code == 200
    output = done.output
    assert output.task_status == "SUCCEEDED"
    assert output.task_id == created.output.task_id
    assert output.orig_prompt == "A cat running across a meadow"
    for name in ("submit_time", "scheduled_time", "end_time"):
        assert TIME.match(output[name]), output
    assert output.submit_time <= output.scheduled_time <= output.end_time
    assert done.usage.video_count == 1
    assert (done.usage["duration"], done.usage["SR"], done.usage["ratio"]) == (2.0, 480, "16:9")
    assert video_facts(httpx.get(output.video_url).content) == ("h264", 832, 480)

    fetched = VideoSynthesis.fetch(created.output.task_id, api_key=key)
    assert fetched.output.task_status == "SUCCEEDED"
    assert fetched.output.video_url.split("?")[0] == output.video_url.split("?")[0]


async def test_aio_sdk_submits_waits_cancels_and_lists(
    gateway: RunningGateway, key: str, point: Point
) -> None:
    point(gateway.url)
    try:
        created = await AioVideoSynthesis.async_call(prompt="waves", api_key=key, **SMALL)
        assert created.output.task_status == "PENDING"
        done = await AioVideoSynthesis.wait(created, api_key=key)
        assert done.output.task_status == "SUCCEEDED"
        fetched = await AioVideoSynthesis.fetch(created, api_key=key)
        assert fetched.output.video_url
        refused = await AioVideoSynthesis.cancel(created, api_key=key)
        assert (refused.status_code, refused.code) == (400, "UnsupportedOperation")
        listed = await AioVideoSynthesis.list(api_key=key, status="SUCCEEDED")
        assert [t["task_id"] for t in listed.output["data"]] == [created.output.task_id]
    finally:
        await dashscope.close_shared_aio_session()


def test_cancel_only_pending_and_list_pages(gateway_factory: Any, point: Point) -> None:
    idle = gateway_factory(run_engine=False)
    key = idle.make_key()
    point(idle.url)
    ids = [
        VideoSynthesis.async_call(prompt=f"p{i}", api_key=key, **SMALL).output.task_id
        for i in range(3)
    ]
    cancelled = VideoSynthesis.cancel(ids[0], api_key=key)
    assert cancelled.status_code == 200 and cancelled.request_id
    after = VideoSynthesis.fetch(ids[0], api_key=key).output
    assert after.task_status == "CANCELED"
    assert VideoSynthesis.wait(ids[0], api_key=key).output.task_status == "CANCELED"
    again = VideoSynthesis.cancel(ids[0], api_key=key)
    assert (again.status_code, again.code) == (400, "UnsupportedOperation")

    first = VideoSynthesis.list(api_key=key, page_no=1, page_size=2).output
    assert (first["total"], first["total_page"], first["page_no"], first["page_size"]) == (
        3,
        2,
        1,
        2,
    )
    assert [t["task_id"] for t in first["data"]] == ids[::-1][:2]
    second = VideoSynthesis.list(api_key=key, page_no=2, page_size=2).output
    assert [t["task_id"] for t in second["data"]] == [ids[0]]
    item = second["data"][0]
    assert item["status"] == "CANCELED" and item["model_name"] == "wan2.6-t2v"
    assert isinstance(item["gmt_create"], int) and isinstance(item["end_time"], int)
    pending = VideoSynthesis.list(api_key=key, status="PENDING").output
    assert pending["total"] == 2
    assert VideoSynthesis.list(api_key=key, model_name="wan2.1-t2v-turbo").output["total"] == 0
    window = VideoSynthesis.list(
        api_key=key, start_time="20000101000000", end_time="20000102000000"
    ).output
    assert window["total"] == 0 and window["data"] == []
    with idle.client(key) as api:
        one = api.get("/api/v1/tasks", params={"task_id": ids[1]}).json()
        assert [t["task_id"] for t in one["data"]] == [ids[1]]


def test_keyframes_post_to_image2video(gateway_factory: Any, point: Point) -> None:
    idle = gateway_factory(run_engine=False)
    key = idle.make_key()
    point(idle.url)
    with idle.client(key) as api:
        red, blue = (
            api.post("/v1/files", files={"file": ("f.png", png_bytes(c), "image/png")}).json()[
                "url"
            ]
            for c in ((200, 40, 40), (20, 40, 220))
        )
        created = VideoSynthesis.async_call(
            model="wan2.2-kf2v-flash",
            prompt="morph",
            first_frame_url=red,
            last_frame_url=blue,
            api_key=key,
        )
        assert created.status_code == 200, created
        native = api.get(f"/v1/tasks/{created.output.task_id}").json()
        assert (native["mode"], native["model"]) == ("kf2v", "wan2.2-kf2v-flash")


def test_errors_answer_in_dashscope_shape(gateway: RunningGateway, key: str, point: Point) -> None:
    point(gateway.url)
    body = {"model": "wan2.6-t2v", "input": {"prompt": "x"}}
    headers = {"Authorization": f"Bearer {key}"}
    sync = httpx.post(gateway.url + SYNTHESIS, json=body, headers=headers)
    assert sync.status_code == 403
    assert sync.json() == {
        "code": "AccessDenied",
        "message": "current user api does not support synchronous calls",
        "request_id": sync.headers["x-request-id"],
    }

    anonymous = httpx.post(
        gateway.url + SYNTHESIS, json=body, headers={"X-DashScope-Async": "enable"}
    )
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "InvalidApiKey"
    wrong = VideoSynthesis.async_call(prompt="x", api_key="vg-wrong", **SMALL)
    assert (wrong.status_code, wrong.code) == (401, "InvalidApiKey")

    too_long = VideoSynthesis.async_call(prompt="x", api_key=key, **{**SMALL, "duration": 16})
    assert (too_long.status_code, too_long.code) == (400, "InvalidParameter")
    assert "duration" in too_long.message
    unknown = VideoSynthesis.async_call(model="wan9-t2v", prompt="x", api_key=key)
    assert (unknown.status_code, unknown.code) == (404, "ModelNotFound")
    extra = VideoSynthesis.async_call(prompt="x", api_key=key, colour="red", **SMALL)
    assert extra.status_code == 400 and "parameters.colour" in extra.message

    with gateway.client(key) as api:
        bad_input = api.post(
            SYNTHESIS, json={"model": "wan2.6-t2v", "input": {"prompt": 5}}, headers=ASYNC
        )
        assert bad_input.status_code == 400 and "prompt" in bad_input.json()["message"]
        assert api.post(SYNTHESIS, content=b"{", headers=ASYNC).json()["code"] == "InvalidParameter"
        for params, name in (
            ({"status": "DONE"}, "status"),
            ({"start_time": "2025-01-01"}, "start_time"),
            ({"page_size": 0}, "page_size"),
            ({"page_no": 10**20}, "page_no"),
        ):
            listed = api.get("/api/v1/tasks", params=params)
            assert listed.status_code == 400 and name in listed.json()["message"], params
            assert set(listed.json()) == {"code", "message", "request_id"}

    mine = VideoSynthesis.async_call(prompt="mine", api_key=key, **SMALL).output.task_id
    other = gateway.make_key("other")
    unseen = VideoSynthesis.fetch(mine, api_key=other)
    assert unseen.status_code == 200
    assert (unseen.output.task_id, unseen.output.task_status) == (mine, "UNKNOWN")
    assert VideoSynthesis.wait(mine, api_key=other).output.task_status == "UNKNOWN"
    foreign_cancel = VideoSynthesis.cancel(mine, api_key=other)
    assert (foreign_cancel.status_code, foreign_cancel.code) == (404, "NotFound")
    assert VideoSynthesis.list(api_key=other).output["total"] == 0
