"""A task's life through the native API, on a real gateway with the local renderer."""

from __future__ import annotations

import io
import time
from typing import Any

import av
import httpx

from conftest import RunningGateway, png_bytes, wait_terminal


def probe(data: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "codec": stream.codec_context.name,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": float(stream.average_rate or 0),
            "frames": frames,
        }


def test_submit_watch_and_download_a_real_mp4(gateway: RunningGateway, api: httpx.Client) -> None:
    created = api.post(
        "/v1/tasks",
        json={"prompt": "A cat running across a meadow", "duration": 2, "resolution": "480P"},
    )
    assert created.status_code == 202
    task_id = created.json()["task_id"]
    assert created.json()["status"] == "queued"

    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = api.get(f"/v1/tasks/{task_id}", params={"wait": 5})
        body = response.json()
        seen.append((body["status"], body["progress"]))
        if body["status"] == "completed":
            break
        assert response.headers["Retry-After"].isdigit()
        assert int(response.headers["openai-poll-after-ms"]) > 0
    statuses = [status for status, _ in seen]
    assert statuses[-1] == "completed"
    assert "processing" in statuses
    progress = [p for _, p in seen]
    assert progress == sorted(progress)

    assert body["model"] == "wan2.6-t2v"
    assert body["mode"] == "t2v"
    assert body["provider"] == "local"
    assert body["started_at"] and body["finished_at"]
    result = body["result"]
    assert (result["width"], result["height"], result["fps"]) == (832, 480, 24)
    assert result["duration"] == 2
    assert result["format"] == "mp4"
    assert body["usage"] == {
        "duration": 2.0,
        "input_video_duration": 0.0,
        "output_video_duration": 2.0,
        "video_count": 1,
        "SR": 480,
        "ratio": "16:9",
        "cost": 2.0,
    }
    assert result["video_url"].startswith(gateway.url + "/")

    download = httpx.get(result["video_url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    facts = probe(download.content)
    assert facts == {"codec": "h264", "width": 832, "height": 480, "fps": 24.0, "frames": 48}


def test_result_url_supports_range_and_rejects_tampering(api: httpx.Client) -> None:
    task_id = api.post("/v1/tasks", json={"prompt": "waves", "duration": 2, "resolution": "480P"})
    body = wait_terminal(api, task_id.json()["task_id"])
    url = body["result"]["video_url"]
    whole = httpx.get(url).content

    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"

    tampered = url.replace("signature=", "signature=A")
    assert httpx.get(tampered).status_code == 403
    other_expiry = url.replace("expires=", "expires=1")
    assert httpx.get(other_expiry).status_code == 403
    unsigned = url.split("?")[0]
    assert httpx.get(unsigned).status_code == 403


def test_expired_result_url_answers_410(gateway_factory: Any) -> None:
    gateway = gateway_factory(result_url_ttl=1)
    with gateway.client(gateway.make_key()) as api:
        created = api.post("/v1/tasks", json={"prompt": "x", "duration": 2, "resolution": "480P"})
        url = wait_terminal(api, created.json()["task_id"])["result"]["video_url"]
        expires = int(httpx.URL(url).params["expires"])
        blobs = gateway.runtime.services.blobs
        blobs.clock = lambda: expires + 1.0
        expired = httpx.get(url)
        assert expired.status_code == 410
        assert "fetch the task again" in expired.json()["error"]["message"]
        fresh = api.get(f"/v1/tasks/{created.json()['task_id']}").json()["result"]["video_url"]
        assert httpx.get(fresh).status_code == 200


def test_same_request_and_seed_render_the_same_video(api: httpx.Client) -> None:
    request = {"prompt": "lanterns", "duration": 2, "resolution": "480P", "seed": 7}
    first = wait_terminal(api, api.post("/v1/tasks", json=request).json()["task_id"])
    second = wait_terminal(api, api.post("/v1/tasks", json=request).json()["task_id"])
    other = wait_terminal(api, api.post("/v1/tasks", json={**request, "seed": 8}).json()["task_id"])
    video = [httpx.get(t["result"]["video_url"]).content for t in (first, second, other)]
    assert video[0] == video[1]
    assert video[0] != video[2]


def test_every_mode_renders(api: httpx.Client) -> None:
    image = api.post("/v1/files", files={"file": ("red.png", png_bytes(), "image/png")})
    assert image.status_code == 201
    red = image.json()["url"]
    blue = api.post(
        "/v1/files", files={"file": ("blue.png", png_bytes((20, 40, 220)), "image/png")}
    ).json()["url"]
    clip = wait_terminal(
        api,
        api.post("/v1/tasks", json={"prompt": "clip", "duration": 2, "resolution": "480P"}).json()[
            "task_id"
        ],
    )["result"]["video_url"]
    requests = {
        "i2v": {"prompt": "zoom", "img_url": red, "duration": 2, "resolution": "480P"},
        "kf2v": {
            "prompt": "morph",
            "first_frame_url": red,
            "last_frame_url": blue,
            "resolution": "480P",
        },
        "r2v": {
            "prompt": "duet",
            "reference_urls": [red, clip],
            "duration": 2,
            "resolution": "480P",
        },
        "vace": {
            "prompt": "paint",
            "function": "video_repainting",
            "video_url": clip,
            "strength": 0.5,
        },
    }
    for mode, request in requests.items():
        created = api.post("/v1/tasks", json=request)
        assert created.status_code == 202, created.text
        done = wait_terminal(api, created.json()["task_id"])
        assert done["status"] == "completed", done
        assert done["mode"] == mode
        facts = probe(httpx.get(done["result"]["video_url"]).content)
        assert facts["codec"] == "h264"
        assert (facts["width"], facts["height"]) == (
            done["result"]["width"],
            done["result"]["height"],
        )
    vace = done
    assert vace["usage"]["input_video_duration"] > 0
    assert vace["usage"]["duration"] == vace["usage"]["input_video_duration"] + 5


def test_data_url_input_and_sync_wait(api: httpx.Client) -> None:
    import base64

    data_url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    response = api.post(
        "/v1/tasks/sync",
        json={
            "prompt": "sync",
            "img_url": data_url,
            "duration": 2,
            "resolution": "480P",
            "timeout": 60,
        },
    )
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert response.json()["mode"] == "i2v"

    pending = api.post(
        "/v1/tasks/sync", json={"prompt": "slow", "duration": 2, "resolution": "480P", "timeout": 0}
    )
    assert pending.status_code == 202
    body = pending.json()
    assert set(body) == {"task_id", "status", "poll_url"}
    assert body["poll_url"].endswith(f"/v1/tasks/{body['task_id']}")
    assert api.get(body["poll_url"]).status_code == 200

    too_long = api.post("/v1/tasks/sync", json={"prompt": "x", "timeout": 301})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["param"] == "timeout"


def test_list_is_newest_first_in_cursor_pages(gateway_factory: Any) -> None:
    gateway = gateway_factory(run_engine=False)
    with gateway.client(gateway.make_key()) as api:
        ids = [
            api.post("/v1/tasks", json={"prompt": f"p{i}", "model": model}).json()["task_id"]
            for i, model in enumerate(["wan2.6-t2v", "wan2.1-t2v-turbo", "wan2.6-t2v"])
        ]
        first = api.get("/v1/tasks", params={"limit": 2}).json()
        assert [t["task_id"] for t in first["data"]] == ids[::-1][:2]
        assert first["has_more"] is True
        rest = api.get("/v1/tasks", params={"limit": 2, "after": first["next_after"]}).json()
        assert [t["task_id"] for t in rest["data"]] == [ids[0]]
        assert rest["has_more"] is False
        turbo = api.get("/v1/tasks", params={"model": "wan2.1-t2v-turbo"}).json()["data"]
        assert [t["task_id"] for t in turbo] == [ids[1]]
        assert api.get("/v1/tasks", params={"status": "completed"}).json()["data"] == []
        assert api.get("/v1/tasks", params={"status": "done"}).status_code == 400
        local = api.get("/v1/tasks", params={"provider": "local"}).json()["data"]
        assert [t["task_id"] for t in local] == ids[::-1]
        assert api.get("/v1/tasks", params={"provider": "elsewhere"}).json()["data"] == []
        created = [t["created_at"] for t in local]
        window = {"created_after": "2000-01-01T00:00:00Z", "created_before": "2100-01-01T00:00"}
        assert len(api.get("/v1/tasks", params=window).json()["data"]) == 3
        later = api.get("/v1/tasks", params={"created_after": "2100-01-01T00:00:00Z"}).json()
        assert later["data"] == [], created
        bad = api.get("/v1/tasks", params={"created_before": "yesterday"})
        assert (bad.status_code, bad.json()["error"]["param"]) == (400, "created_before")


def test_models_lists_the_seed_models_with_timing_hints(api: httpx.Client) -> None:
    models = {m["id"]: m for m in api.get("/v1/models").json()["data"]}
    for name in (
        "wan2.6-t2v",
        "wan2.6-i2v-flash",
        "wan2.2-kf2v-flash",
        "wan2.6-r2v-flash",
        "wan2.1-vace-plus",
        "wan2.1-t2v-turbo",
        "veo3",
        "sora-2",
        "sora-2-pro",
    ):
        assert models[name]["provider"] == "local"
    t2v = models["wan2.6-t2v"]
    assert t2v["durations"][0] == 2 and t2v["durations"][-1] == 15
    assert t2v["suggested_poll_interval"] == 10
    assert t2v["typical_time"] == "1-3 min"
    assert models["wan2.6-r2v-flash"]["suggested_poll_interval"] == 15
    assert "1792x1024" in models["sora-2-pro"]["sizes"]
