"""The Kling, MiniMax and Veo fakes on the wire: Veo driven by Google's `google-genai` client,
Kling's JWT checked, MiniMax's errors answered as HTTP 200 with `base_resp`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from conftest import png_bytes
from vidgate.dialects.kling_outbound import mint_token
from vidgate.testing import FakeUpstream, Timing
from vidgate.testing.credentials import KLING_KEY

FAST = Timing(queue_seconds=0.05, render_seconds=0.1)


@pytest.fixture
def veo() -> Iterator[FakeUpstream]:
    with FakeUpstream("veo", timing=FAST, keys=["gk-good"]) as started:
        yield started


@pytest.mark.filterwarnings("ignore:The generate_videos method:DeprecationWarning")
def test_google_genai_client_generates_polls_and_downloads_from_the_veo_fake(
    veo: FakeUpstream,
) -> None:
    genai = pytest.importorskip("google.genai")
    from google.genai import errors, types

    options = types.HttpOptions(base_url=veo.base_url)
    client = genai.Client(api_key="gk-good", http_options=options)
    image = types.Image(image_bytes=png_bytes(), mime_type="image/png")
    operation = client.models.generate_videos(
        model="veo-3.0-fast-generate-001",
        prompt="a lighthouse",
        image=image,
        config=types.GenerateVideosConfig(
            aspect_ratio="9:16", resolution="720p", duration_seconds=4
        ),
    )
    assert operation.name and operation.name.startswith("models/veo-3.0-fast-generate-001/")
    deadline = time.monotonic() + 10
    while not operation.done:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        operation = client.operations.get(operation)
    assert operation.response is not None and operation.response.generated_videos
    video = operation.response.generated_videos[0].video
    assert video is not None and (video.uri or "").startswith(veo.url)
    # The SDK reads a file name out of https URIs only; the fake serves plain http.
    name = (video.uri or "").split("/v1beta/")[1].split(":")[0]
    assert client.files.download(file=name)[4:8] == b"ftyp"
    sent = next(iter(veo.tasks.values())).body
    assert sent["parameters"]["aspectRatio"] == "9:16"
    assert sent["instances"][0]["image"]["mimeType"] == "image/png"
    stranger = genai.Client(api_key="gk-bad", http_options=options)
    with pytest.raises(errors.ClientError) as refused:
        stranger.operations.get(operation)
    assert refused.value.code == 400 and refused.value.status == "INVALID_ARGUMENT"


def test_veo_fake_refuses_a_missing_key_and_an_unsupported_shape(veo: FakeUpstream) -> None:
    create = f"{veo.url}/v1beta/models/veo-3.0-generate-001:predictLongRunning"
    body = {"instances": [{"prompt": "x"}], "parameters": {"durationSeconds": 4}}
    assert httpx.post(create, json=body).json()["error"]["status"] == "PERMISSION_DENIED"
    body["parameters"]["resolution"] = "1080p"
    refused = httpx.post(create, json=body, headers={"x-goog-api-key": "gk-good"})
    assert refused.status_code == 400
    assert refused.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_kling_fake_takes_only_a_jwt_signed_with_the_secret_key() -> None:
    access, secret = KLING_KEY.split(":")
    body = {"model_name": "kling-v1-6", "prompt": "x", "duration": "5"}
    with FakeUpstream("kling", timing=FAST) as fake, httpx.Client(base_url=fake.url) as http:

        def create(token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"}
            return http.post("/v1/videos/text2video", json=body, headers=headers)

        good = create(mint_token(access, secret))
        assert good.status_code == 200 and good.json()["code"] == 0
        task_id = good.json()["data"]["task_id"]
        for bad in (
            mint_token(access, "wrong-secret"),
            mint_token("other-access", secret),
            mint_token(access, secret, now=time.time() - 3600),
            secret,
        ):
            refused = create(bad)
            assert refused.status_code == 401 and refused.json()["code"] == 1000
        headers = {"Authorization": f"Bearer {mint_token(access, secret)}"}
        wrong_kind = http.get(f"/v1/videos/image2video/{task_id}", headers=headers)
        assert wrong_kind.status_code == 404
        assert http.get(f"/v1/videos/text2video/{task_id}", headers=headers).json()["code"] == 0


def test_minimax_fake_answers_errors_with_http_200_and_base_resp() -> None:
    with FakeUpstream("minimax", timing=FAST, keys=["mm-good"]) as fake:
        url = f"{fake.url}/v1/video_generation"
        body = {"model": "MiniMax-Hailuo-02", "prompt": "x", "duration": 10, "resolution": "1080P"}
        wrong_key = httpx.post(url, json=body, headers={"Authorization": "Bearer mm-bad"})
        assert wrong_key.status_code == 200
        assert wrong_key.json()["base_resp"]["status_code"] == 1004
        headers = {"Authorization": "Bearer mm-good"}
        refused = httpx.post(url, json=body, headers=headers)
        assert refused.status_code == 200 and refused.json()["base_resp"]["status_code"] == 2013
        fake.faults.throttle(1)
        throttled = httpx.post(url, json={**body, "duration": 6}, headers=headers)
        assert throttled.status_code == 200
        assert throttled.json()["base_resp"]["status_code"] == 1002
