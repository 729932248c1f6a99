"""The Runway, Luma, fal and Replicate fakes driven by each provider's official client."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from vidgate.testing import FakeUpstream, Timing

FAST = Timing(queue_seconds=0.05, render_seconds=0.1)


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeUpstream]:
    with FakeUpstream(request.param, timing=FAST, keys=["k-good"]) as started:
        yield started


@pytest.mark.parametrize("fake", ["runway"], indirect=True)
def test_runwayml_client(fake: FakeUpstream, request: pytest.FixtureRequest) -> None:
    runwayml = pytest.importorskip("runwayml")
    client = runwayml.RunwayML(api_key="k-good", base_url=fake.base_url, max_retries=0)
    request.addfinalizer(client.close)
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="a lighthouse", ratio="1280:720", duration=2
    )
    deadline = time.monotonic() + 10
    while (task := client.tasks.retrieve(created.id)).status != "SUCCEEDED":
        assert time.monotonic() < deadline and task.status in ("PENDING", "RUNNING")
        time.sleep(0.05)
    assert task.status == "SUCCEEDED" and task.output[0].startswith(fake.url)
    assert httpx.get(task.output[0]).content[4:8] == b"ftyp"
    other = client.image_to_video.create(
        model="gen4_turbo", prompt_image="https://example.com/a.png", ratio="960:960"
    )
    client.tasks.delete(other.id)
    assert client.tasks.retrieve(other.id).status == "CANCELLED"
    with (
        runwayml.RunwayML(api_key="k-bad", base_url=fake.base_url) as stranger,
        pytest.raises(runwayml.AuthenticationError),
    ):
        stranger.tasks.retrieve(other.id)


@pytest.mark.parametrize("fake", ["luma"], indirect=True)
def test_lumaai_client(fake: FakeUpstream, request: pytest.FixtureRequest) -> None:
    lumaai = pytest.importorskip("lumaai")
    client = lumaai.LumaAI(auth_token="k-good", base_url=fake.base_url, max_retries=0)
    request.addfinalizer(client.close)
    created = client.generations.create(
        prompt="a lighthouse", model="ray-flash-2", aspect_ratio="16:9", duration="5s"
    )
    assert created.state == "queued"
    deadline = time.monotonic() + 10
    while (got := client.generations.get(created.id or "")).state != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert got.assets is not None and (got.assets.video or "").startswith(fake.url)
    client.generations.delete(created.id or "")
    with pytest.raises(lumaai.NotFoundError):
        client.generations.get(created.id or "")


@pytest.mark.parametrize("fake", ["fal"], indirect=True)
def test_fal_client(
    fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    pytest.importorskip("fal_client")
    import fal_client.client as fal

    monkeypatch.setattr(fal, "QUEUE_URL_FORMAT", fake.url + "/")
    client = fal.SyncClient(key="k-good")
    request.addfinalizer(lambda: client._client.close())
    handle = client.submit(
        "fal-ai/wan/v2.2-a14b/text-to-video", arguments={"prompt": "a lighthouse"}
    )
    assert handle.status_url.startswith(fake.url + "/fal-ai/wan/requests/")
    result = handle.get()
    assert result["video"]["url"].startswith(fake.url)
    assert isinstance(handle.status(), fal.Completed)


@pytest.mark.parametrize("fake", ["replicate"], indirect=True)
def test_replicate_client(fake: FakeUpstream, request: pytest.FixtureRequest) -> None:
    replicate = pytest.importorskip("replicate")
    client = replicate.Client(api_token="k-good", base_url=fake.url)
    request.addfinalizer(lambda: client._client.close())
    prediction = client.models.predictions.create(
        model="wan-video/wan-2.2-t2v-fast", input={"prompt": "a lighthouse"}, wait=2
    )
    assert prediction.status == "succeeded", prediction.error
    assert str(prediction.output).startswith(fake.url)
    slow = client.models.predictions.create(
        model="wan-video/wan-2.2-t2v-fast", input={"prompt": "a slow one"}
    )
    slow.cancel()
    slow.reload()
    assert slow.status in ("canceled", "succeeded")
    secret = client.webhooks.default.secret()
    assert secret.key.startswith("whsec_")
