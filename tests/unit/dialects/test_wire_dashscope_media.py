"""DashScope's Wan 2.7 `media` protocol, its upload policies and its usage per family."""

from __future__ import annotations

from typing import Any

import pytest

from vidgate.catalog import MODELS, resolve_shape
from vidgate.dialects import dashscope, dashscope_uploads
from vidgate.dialects.dashscope_usage import read_usage, render_usage
from vidgate.errors import ApiError, InvalidRequest
from vidgate.models import Mode, Usage, VideoRequest, detect_mode

SECRET = b"s" * 32
USAGE = Usage(
    duration=5, input_video_duration=0, output_video_duration=5, video_count=1, SR=480, ratio="16:9"
)


def create(model: str, **given: Any) -> VideoRequest:
    return dashscope.parse_create({"model": model, "input": {"prompt": "p", **given}})


def test_media_reads_as_the_canonical_inputs() -> None:
    frames = create(
        "wan2.7-i2v",
        media=[
            {"type": "first_frame", "url": "https://in/a.png"},
            {"type": "driving_audio", "url": "https://in/a.mp3"},
        ],
    )
    assert (frames.img_url, detect_mode(frames)) == ("https://in/a.png", Mode.I2V)
    assert frames.vace["media"][1] == {"type": "driving_audio", "url": "https://in/a.mp3"}
    _, legacy = dashscope.build_create(frames.model_copy(update={"model": "wan2.6-i2v"}))
    assert legacy["input"]["img_url"] == "https://in/a.png"
    assert legacy["input"]["media"] == [{"type": "driving_audio", "url": "https://in/a.mp3"}]
    both = create(
        "wan2.7-i2v",
        media=[
            {"type": "first_frame", "url": "https://in/a.png"},
            {"type": "last_frame", "url": "https://in/b.png"},
        ],
    )
    assert (both.first_frame_url, both.last_frame_url, both.img_url) == (
        "https://in/a.png",
        "https://in/b.png",
        None,
    )
    assert detect_mode(both) is Mode.KF2V
    clip = create("wan2.7-i2v", media=[{"type": "first_clip", "url": "https://in/c.mp4"}])
    assert (clip.video_url, clip.function, detect_mode(clip)) == (
        "https://in/c.mp4",
        "video_extension",
        Mode.VACE,
    )
    assert create("wan2.7-i2v", first_clip_url="https://in/c.mp4").video_url == "https://in/c.mp4"
    refs = create(
        "wan2.7-r2v",
        media=[
            {"type": "reference_video", "url": "https://in/v.mp4"},
            {"type": "reference_image", "url": "https://in/i.png"},
        ],
    )
    assert refs.reference_urls == ["https://in/v.mp4", "https://in/i.png"]


@pytest.mark.parametrize(
    ("media", "param"),
    [
        ([], "input.media"),
        ("x", "input.media"),
        (["x"], "input.media[0]"),
        ([{"type": "poster", "url": "u"}], "input.media[0].type"),
        ([{"type": "first_frame"}], "input.media[0].url"),
        ([{"type": "first_frame", "url": 5}], "input.media[0].url"),
        (
            [{"type": "first_frame", "url": "a"}, {"type": "first_frame", "url": "b"}],
            "input.media[1]",
        ),
    ],
)
def test_bad_media_names_the_asset(media: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        create("wan2.7-i2v", media=media)
    assert caught.value.param == param
    assert param in caught.value.message


def test_wan27_is_sent_as_media_with_resolution_and_ratio() -> None:
    request = create(
        "wan2.7-r2v",
        media=[
            {"type": "reference_video", "url": "https://in/v.mp4"},
            {
                "type": "reference_image",
                "url": "https://in/i.png",
                "reference_voice": "https://in/v.mp3",
            },
        ],
    )
    spec = MODELS["wan2.7-r2v"]
    shape = resolve_shape(spec, duration=10, resolution="720P", size=None, ratio=None, fps=None)
    _, body = dashscope.build_create(request, shape)
    assert body["input"]["media"] == [
        {"type": "reference_video", "url": "https://in/v.mp4"},
        {
            "type": "reference_image",
            "url": "https://in/i.png",
            "reference_voice": "https://in/v.mp3",
        },
    ]
    rehosted = request.model_copy(
        update={"reference_urls": ["https://gw/1.mp4", "https://gw/2.png"]}
    )
    sent = dashscope.build_create(rehosted)[1]["input"]["media"]
    assert [item["url"] for item in sent] == ["https://gw/1.mp4", "https://gw/2.png"]
    assert sent[1]["reference_voice"] == "https://in/v.mp3"
    assert "reference_urls" not in body["input"]
    assert body["parameters"] == {"resolution": "720P", "ratio": "16:9", "duration": 10}
    assert dashscope.parse_create(body).reference_urls == request.reference_urls
    clip = create("wan2.7-i2v", first_clip_url="https://in/c.mp4")
    _, sent = dashscope.build_create(clip)
    assert sent["input"] == {
        "prompt": "p",
        "media": [{"type": "first_clip", "url": "https://in/c.mp4"}],
    }


def test_wan27_models_and_their_limits() -> None:
    assert MODELS["wan2.7-r2v"].durations == tuple(range(2, 11))
    assert MODELS["wan2.7-i2v"].durations == tuple(range(2, 16))
    for name in ("wan2.7-t2v", "wan2.7-i2v", "wan2.7-r2v"):
        assert MODELS[name].resolutions == ("720P", "1080P")
        assert MODELS[name].protocol == "media"
    with pytest.raises(InvalidRequest) as caught:
        resolve_shape(
            MODELS["wan2.7-r2v"], duration=5, resolution="480P", size=None, ratio=None, fps=None
        )
    assert caught.value.param == "resolution"


@pytest.mark.parametrize(
    ("model", "usage"),
    [
        ("wan2.1-t2v-turbo", {"video_duration": 5, "video_ratio": "832*480", "video_count": 1}),
        ("wan2.2-kf2v-flash", {"duration": 5, "video_count": 1, "SR": 480}),
        ("wan2.5-t2v-preview", {"duration": 5, "video_count": 1, "SR": 480}),
        (
            "wan2.7-t2v",
            {
                "duration": 5,
                "input_video_duration": 0,
                "output_video_duration": 5,
                "video_count": 1,
                "SR": 480,
                "ratio": "16:9",
            },
        ),
    ],
)
def test_usage_per_family(model: str, usage: dict[str, Any]) -> None:
    assert render_usage(USAGE, model, "832*480") == usage
    read = read_usage(usage)
    assert read is not None and read.output_video_duration == 5


def grant() -> dashscope_uploads.UploadGrant:
    return dashscope_uploads.new_grant("key_1", "wan2.7-i2v", 1000, now=1_000_000)


def form(data: dict[str, Any], name: str = "a.png") -> dict[str, str]:
    return {
        "OSSAccessKeyId": data["oss_access_key_id"],
        "Signature": data["signature"],
        "policy": data["policy"],
        "key": f"{data['upload_dir']}/{name}",
    }


def test_a_policy_verifies_until_it_expires() -> None:
    terms = grant()
    data = dashscope_uploads.issue(terms, SECRET, "http://gw/api/v1/uploads/form", 1_000_000)
    assert data["expire_in_seconds"] == 300
    verified, name = dashscope_uploads.verify(form(data), SECRET, 1_000_100)
    assert (verified, name) == (terms, "a.png")
    with pytest.raises(ApiError) as late:
        dashscope_uploads.verify(form(data), SECRET, 1_000_301)
    assert late.value.status_code == 403 and "expired" in late.value.message
    with pytest.raises(InvalidRequest) as forged:
        dashscope_uploads.verify(form(data), b"t" * 32, 1_000_100)
    assert forged.value.param == "Signature"
    for bad in ("../a.png", "x/a.png", ""):
        with pytest.raises(ApiError):
            dashscope_uploads.verify(form(data, bad), SECRET, 1_000_100)


def test_an_alias_is_per_key() -> None:
    key = "dashscope-instant/2026-12-01/abc/a.png"
    assert dashscope_uploads.alias_id("key_1", key) != dashscope_uploads.alias_id("key_2", key)
    assert len(dashscope_uploads.alias_id("key_1", key)) <= 40
    assert dashscope_uploads.oss_key("oss://" + key) == key
    assert dashscope_uploads.oss_key("https://x/a.png") is None
