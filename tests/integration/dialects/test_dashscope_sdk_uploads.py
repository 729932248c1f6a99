"""The dashscope SDK's local-file uploads (`file://…`, then `oss://…`) against the gateway."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import dashscope
import httpx
import pytest
from dashscope import VideoSynthesis
from dashscope.common.error import UploadFileException
from dashscope.utils.oss_utils import OssUtils

from conftest import RunningGateway, png_bytes

SYNTHESIS = "/api/v1/services/aigc/video-generation/video-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}
RESOLVE = {**ASYNC, "X-DashScope-OssResourceResolve": "enable"}
SMALL: dict[str, Any] = {"resolution": "480P", "duration": 2}


@pytest.fixture
def pointed(gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGateway]:
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{gateway.url}/api/v1")
    yield gateway
    dashscope.close_shared_sync_session()


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "red frame.png"
    path.write_bytes(png_bytes((200, 40, 40)))
    return path


def test_a_file_url_is_uploaded_and_the_task_renders_from_it(
    pointed: RunningGateway, key: str, picture: Path
) -> None:
    done = VideoSynthesis.call(
        model="wan2.6-i2v-flash",
        prompt="the frame comes alive",
        img_url=picture.as_uri(),
        api_key=key,
        **SMALL,
    )
    assert done.status_code == 200, done
    assert done.output.task_status == "SUCCEEDED"
    red, green, blue = first_frame(httpx.get(done.output.video_url).content)
    assert red > 150 and green < 90 and blue < 90, (red, green, blue)
    with pointed.client(key) as api:
        task = api.get(f"/v1/tasks/{done.output.task_id}").json()
    assert task["mode"] == "i2v"


def test_the_policy_is_what_the_sdk_reads(pointed: RunningGateway, key: str) -> None:
    answer = OssUtils.get_upload_certificate(model="wan2.6-i2v-flash", api_key=key)
    assert answer.status_code == 200, answer
    data = answer.output
    assert data["upload_host"] == f"{pointed.url}/api/v1/uploads/form"
    assert data["oss_access_key_id"] and data["signature"]
    assert (data["x_oss_object_acl"], data["x_oss_forbid_overwrite"]) == ("private", "true")
    assert data["upload_dir"].startswith("dashscope-instant/")
    assert 0 < data["expire_in_seconds"] <= 300 and data["max_file_size_mb"] >= 1
    document = json.loads(base64.b64decode(data["policy"]))
    assert document["expiration"].endswith("Z")
    assert ["starts-with", "$key", data["upload_dir"] + "/"] in document["conditions"]
    with pointed.client(key) as api:
        wrong = api.get("/api/v1/uploads", params={"action": "put", "model": "m"})
        assert wrong.status_code == 400 and "action" in wrong.json()["message"]
        missing = api.get("/api/v1/uploads", params={"action": "getPolicy"})
        assert missing.status_code == 400 and "model" in missing.json()["message"]
    assert httpx.get(f"{pointed.url}/api/v1/uploads?action=getPolicy&model=m").status_code == 401


def _form(data: dict[str, Any], name: str = "a.png") -> dict[str, str]:
    return {
        "OSSAccessKeyId": data["oss_access_key_id"],
        "Signature": data["signature"],
        "policy": data["policy"],
        "key": f"{data['upload_dir']}/{name}",
        "x-oss-object-acl": data["x_oss_object_acl"],
        "x-oss-forbid-overwrite": data["x_oss_forbid_overwrite"],
        "success_action_status": "200",
    }


def test_the_form_checks_its_policy(pointed: RunningGateway, key: str) -> None:
    with pointed.client(key) as api:
        data = api.get("/api/v1/uploads", params={"action": "getPolicy", "model": "m"}).json()
    host = data["data"]["upload_host"]
    form = _form(data["data"])
    image = {"file": ("a.png", png_bytes((1, 2, 3)), "image/png")}
    cases: list[tuple[dict[str, str], int, str]] = [
        ({**form, "Signature": "AAAA"}, 400, "Signature"),
        ({**form, "policy": form["policy"][:-8] + "AAAAAAA="}, 400, "Signature"),
        ({k: v for k, v in form.items() if k != "policy"}, 400, "policy"),
        ({**form, "OSSAccessKeyId": "someone"}, 400, "OSSAccessKeyId"),
        ({**form, "key": "elsewhere/a.png"}, 403, "key"),
        ({**form, "key": form["key"].rsplit("/", 1)[0] + "/../a.png"}, 403, "key"),
    ]
    for fields, status, named in cases:
        refused = httpx.post(host, data=fields, files=image)
        assert refused.status_code == status, (fields, refused.text)
        assert named in refused.json()["message"], refused.json()
    not_media = httpx.post(host, data=form, files={"file": ("a.png", b"not an image", "image/png")})
    assert not_media.status_code == 400 and "file" in not_media.json()["message"]
    assert httpx.post(host, data=form, files=image).status_code == 200
    again = httpx.post(host, data=form, files=image)
    assert again.status_code == 409, again.text


def test_the_form_enforces_size_and_expiry(gateway_factory: Any) -> None:
    small = gateway_factory(max_upload_bytes=2000)
    key = small.make_key()
    with small.client(key) as api:
        data = api.get("/api/v1/uploads", params={"action": "getPolicy", "model": "m"}).json()
    form, host = _form(data["data"]), data["data"]["upload_host"]
    too_big = httpx.post(host, data=form, files={"file": ("a.png", bytes(3000), "image/png")})
    assert too_big.status_code == 413 and "file" in too_big.json()["message"]

    image = {"file": ("a.png", png_bytes((1, 2, 3), size=(8, 8)), "image/png")}
    blobs = small.runtime.blobs
    now = blobs.clock()
    blobs.clock = lambda: now + 301
    try:
        late = httpx.post(host, data=form, files=image)
    finally:
        blobs.clock = lambda: now
    assert late.status_code == 403 and "expired" in late.json()["message"]
    assert httpx.post(host, data=form, files=image).status_code == 200


def test_an_oss_url_resolves_only_for_the_key_that_uploaded_it(
    pointed: RunningGateway, key: str, picture: Path
) -> None:
    url, _ = OssUtils.upload(model="wan2.6-i2v-flash", file_path=str(picture), api_key=key)
    assert url.startswith("oss://dashscope-instant/") and url.endswith("/red frame.png")
    other = pointed.make_key("other")
    body = {"model": "wan2.6-i2v-flash", "input": {"prompt": "p", "img_url": url}}
    with pointed.client(other) as api:
        foreign = api.post(SYNTHESIS, json=body, headers=RESOLVE)
        assert foreign.status_code == 400, foreign.text
        assert foreign.json()["code"] == "InvalidParameter"
        assert "input.img_url" in foreign.json()["message"]
        unknown = {**body, "input": {"prompt": "p", "reference_urls": ["oss://nowhere/x.png"]}}
        missing = api.post(SYNTHESIS, json=unknown, headers=RESOLVE)
        assert missing.status_code == 400 and "input.reference_urls[0]" in missing.text
        assert api.get("/api/v1/tasks").json()["total"] == 0
    with pointed.client(key) as api:
        no_header = api.post(SYNTHESIS, json=body, headers=ASYNC)
        assert no_header.status_code == 400
        assert "X-DashScope-OssResourceResolve" in no_header.json()["message"]
        mine = api.post(SYNTHESIS, json=body, headers=RESOLVE)
        assert mine.status_code == 200, mine.text


def test_an_upload_fails_clearly_without_a_key(pointed: RunningGateway, picture: Path) -> None:
    with pytest.raises(UploadFileException, match="certificate"):
        VideoSynthesis.call(
            model="wan2.6-i2v-flash", prompt="p", img_url=picture.as_uri(), api_key="vg-wrong"
        )


def test_the_v2_client_uploads_a_wan27_first_frame(
    pointed: RunningGateway, key: str, picture: Path
) -> None:
    with dashscope.Client(api_key=key, base_url=f"{pointed.url}/api/v1", max_retries=0) as client:
        done = client.videos.generate(
            model="wan2.7-i2v",
            prompt="the frame comes alive",
            image_url=picture.as_uri(),
            resolution="720P",
            duration=2,
        )
    assert done.succeeded, done
    frame = first_frame(httpx.get(done.video_url or "").content)
    assert frame[0] > 150 and frame[1] < 90 and frame[2] < 90, frame
    with pointed.client(key) as api:
        task = api.get(f"/v1/tasks/{done.task_id}").json()
    assert (task["mode"], task["model"]) == ("i2v", "wan2.7-i2v")


def first_frame(video: bytes) -> tuple[float, float, float]:
    """The mean colour of a video's first frame."""
    with av.open(io.BytesIO(video)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    red, green, blue = (float(frame[..., channel].mean()) for channel in range(3))
    return red, green, blue
