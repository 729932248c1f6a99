"""The openai SDK's remix, edit, extend and character calls against the gateway, on the local
renderer and forwarded to an OpenAI upstream, and OpenAI's error shape on unknown routes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types import Video

from conftest import RunningGateway, png_bytes
from vidgate.testing import FakeUpstream
from vidgate.testing.media import sample_video

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")
SMALL: dict[str, Any] = {"model": "wan2.6-t2v", "seconds": "2", "size": "832x480"}
Fakes = Callable[..., FakeUpstream]
Fronted = Callable[..., RunningGateway]


@pytest.fixture
def client(gateway: RunningGateway, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key) as opened:
        yield opened


def _by_id(client: openai.OpenAI, kind: str, video_id: str, **fields: Any) -> Video:
    """An edit or extension of a video by id. The SDK's `edit` and `extend` take such a
    reference in their types, but send only files (3.57 raises on a dict), so this goes
    through the client's own JSON `post`, as the API documents it."""
    body = {"video": {"id": video_id}, **fields}
    return client.post(f"/videos/{kind}", body=body, cast_to=Video)


def _native(gateway: RunningGateway, key: str, task_id: str) -> dict[str, Any]:
    with gateway.client(key) as api:
        body: dict[str, Any] = api.get(f"/v1/tasks/{task_id}").json()
        return body


def test_remix_renders_the_source_request_with_the_new_prompt(
    gateway: RunningGateway, key: str, client: openai.OpenAI
) -> None:
    source = client.videos.create_and_poll(prompt="a red kite over a beach", **SMALL)
    remix = client.videos.remix(source.id, prompt="a blue kite at night")
    assert remix.remixed_from_video_id == source.id
    assert (remix.model, remix.seconds, remix.size) == (source.model, "2", "832x480")
    done = client.videos.poll(remix.id)
    assert done.status == "completed", done
    assert (done.prompt, done.remixed_from_video_id) == ("a blue kite at night", source.id)
    native = _native(gateway, key, remix.id)
    assert native["metadata"] == {"remixed_from_video_id": source.id}
    assert client.videos.retrieve(source.id).remixed_from_video_id is None
    original = client.videos.download_content(source.id).content
    assert client.videos.download_content(remix.id).content != original


def test_remix_of_an_image_video_reuses_its_image(
    gateway: RunningGateway, key: str, client: openai.OpenAI
) -> None:
    source = client.videos.create_and_poll(
        prompt="zoom", model="sora-2", input_reference=("cat.png", png_bytes(), "image/png")
    )
    remix = client.videos.poll(client.videos.remix(source.id, prompt="zoom out").id)
    assert remix.status == "completed", remix
    assert _native(gateway, key, remix.id)["mode"] == "i2v"


def test_extend_and_edit_use_the_vace_functions(
    gateway: RunningGateway, key: str, client: openai.OpenAI
) -> None:
    source = client.videos.create_and_poll(prompt="a sailing boat", **SMALL)
    extended = _by_id(client, "extensions", source.id, prompt="it sails on", seconds="4")
    edited = _by_id(client, "edits", source.id, prompt="in pencil strokes")
    boat = ("boat.mp4", sample_video(320, 240, 2), "video/mp4")
    uploaded = client.videos.extend(prompt="and on", seconds="8", video=boat)
    uploaded_edit = client.videos.edit(prompt="as a sketch", video=boat)
    for video in (extended, edited, uploaded, uploaded_edit):
        done = client.videos.poll(video.id)
        assert done.status == "completed", done
        assert len(client.videos.download_content(video.id).content) > 1000
    for video in (extended, edited, uploaded, uploaded_edit):
        native = _native(gateway, key, video.id)
        assert (native["mode"], native["model"]) == ("vace", "wan2.1-vace-plus")
    with gateway.client(key) as api:
        raw = api.post(
            "/v1/videos/extensions",
            json={"prompt": "more", "seconds": "4", "video": {"id": source.id}},
        )
        assert raw.status_code == 200 and raw.json()["status"] == "queued"
        bad = api.post(
            "/v1/videos/extensions",
            json={"prompt": "more", "seconds": "5", "video": {"id": source.id}},
        )
        assert bad.json()["error"]["param"] == "seconds"


def test_characters_are_kept_and_read_back(
    gateway: RunningGateway, key: str, client: openai.OpenAI
) -> None:
    created = client.videos.create_character(
        name="Mia", video=("mia.mp4", sample_video(320, 240), "video/mp4")
    )
    assert created.name == "Mia" and created.id and created.created_at > 0
    got = client.videos.get_character(created.id)
    assert (got.id, got.name, got.created_at) == (created.id, "Mia", created.created_at)
    other = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.make_key("o"))
    with other, pytest.raises(openai.NotFoundError) as foreign:
        other.videos.get_character(created.id)
    assert foreign.value.param == "character_id"
    with pytest.raises(openai.BadRequestError) as junk:
        client.videos.create_character(name="Bo", video=("bo.mp4", b"not a video", "video/mp4"))
    assert junk.value.param == "video"


def test_derivations_refuse_unfinished_or_unknown_videos(gateway_factory: Any) -> None:
    idle = gateway_factory(run_engine=False)
    key = idle.make_key()
    with openai.OpenAI(base_url=f"{idle.url}/v1", api_key=key) as client:
        queued = client.videos.create(prompt="waiting", **SMALL)
        with pytest.raises(openai.BadRequestError) as early:
            client.videos.remix(queued.id, prompt="other")
        assert (early.value.param, early.value.type) == ("video_id", "invalid_request_error")
        with pytest.raises(openai.BadRequestError) as early_edit:
            _by_id(client, "edits", queued.id, prompt="x")
        assert early_edit.value.param == "video"
        with pytest.raises(openai.NotFoundError):
            client.videos.remix("video_nope", prompt="other")
        with pytest.raises(openai.BadRequestError) as no_prompt:
            client.videos.remix(queued.id, prompt="")
        assert no_prompt.value.param == "prompt"
    with idle.client(key) as api:
        listed = api.get("/v1/videos").json()["data"]
        assert [v["id"] for v in listed] == [queued.id]


def test_unknown_routes_and_methods_answer_in_openai_shape(gateway_factory: Any) -> None:
    idle = gateway_factory(run_engine=False)
    key = idle.make_key()
    with idle.client(key) as api:
        for method, path, status in (
            ("GET", "/v1/videos/abc/thumbnails", 404),
            ("POST", "/v1/videos/abc/cut", 404),
            ("PUT", "/v1/videos/abc", 405),
            ("PATCH", "/v1/videos", 405),
        ):
            answer = api.request(method, path)
            assert answer.status_code == status, (method, path, answer.text)
            error = answer.json()["error"]
            assert set(error) == {"message", "type", "param", "code"}
            assert error["type"] == "invalid_request_error"
            assert method in error["message"] and "Invalid" in error["message"]


def test_derivations_are_forwarded_to_an_openai_upstream(fakes: Fakes, fronted: Fronted) -> None:
    fake = fakes("openai")
    gateway = fronted({"oa": (fake, {})}, {"sora-2": ["oa"], "wan2.1-vace-plus": ["oa"]})
    key = gateway.make_key()
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key) as client:
        source = client.videos.create_and_poll(prompt="a harbour", model="sora-2", seconds="4")
        assert source.status == "completed", source
        remix = client.videos.poll(client.videos.remix(source.id, prompt="at dusk").id)
        extended = client.videos.poll(
            _by_id(client, "extensions", source.id, prompt="more", seconds="8").id
        )
        edited = client.videos.poll(_by_id(client, "edits", source.id, prompt="sepia").id)
        for video in (remix, extended, edited):
            assert video.status == "completed", video
        assert remix.remixed_from_video_id == source.id
        assert (extended.seconds, edited.seconds) == ("8", "4")
        assert fake.counters.calls("POST /v1/videos/{video_id}/remix") == 1
        assert fake.counters.calls("POST /v1/videos/extensions") == 1
        assert fake.counters.calls("POST /v1/videos/edits") == 1
        upstream = {task.task_id: task for task in fake.state.tasks()}
        assert {t.extra.get("remixed_from_video_id") for t in upstream.values()} > {None}
        with pytest.raises(openai.BadRequestError) as refused:
            client.videos.edit(prompt="x", video=("a.mp4", sample_video(320, 240), "video/mp4"))
        assert refused.value.code == "unsupported_operation"
        assert "oa" in refused.value.message
        assert len(fake.state.tasks()) == 4
        upstream_id = next(
            t.task_id for t in fake.state.tasks() if "remixed_from_video_id" in t.extra
        )
        assert client.videos.delete(remix.id).deleted is True
        assert fake.state.get(upstream_id) is None, "the upstream's copy is deleted too"
    assert httpx.get(f"{gateway.url}/v1/videos/x/y").json()["error"]["type"]
