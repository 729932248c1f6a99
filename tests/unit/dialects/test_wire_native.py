"""vidgate's own dialect (the WaveAPI-style task API): flat bodies and the canonical task JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vidgate.dialects import dashscope, native
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, Result, Status, Task, TaskError, VideoRequest

CREATED = datetime(2025, 9, 29, 14, 18, 52, 331_000, tzinfo=UTC)


def test_paths() -> None:
    assert native.CREATE_PATH == "/v1/tasks"
    assert native.task_path("t1") == "/v1/tasks/t1"


@pytest.mark.parametrize("word", ["queued", "processing", "completed", "failed", "cancelled"])
def test_status_words_are_the_canonical_ones(word: str) -> None:
    status = native.STATUS.canonical(word)
    assert status is not None and status.value == word
    assert native.STATUS.wire(status) == word


def test_the_seed_body_parses_flat() -> None:
    body = {
        "model": "veo3",
        "action": "generate",
        "prompt": "A cat walking on the beach",
        "duration": 5,
        "callback_url": "https://your-server.com/webhook/task-done",
    }
    video = native.parse_create(body)
    assert video == VideoRequest(
        model="veo3",
        action="generate",
        prompt="A cat walking on the beach",
        duration=5,
        callback_url="https://your-server.com/webhook/task-done",
    )


def test_vace_parameters_go_at_the_top_level_both_ways() -> None:
    body = {
        "model": "wan2.1-vace-plus",
        "prompt": "p",
        "function": "video_outpainting",
        "video_url": "https://in.example/v.mp4",
        "top_scale": 1.5,
        "watermark": False,
    }
    video = native.parse_create(body)
    assert video.vace == {"top_scale": 1.5, "watermark": False}
    assert video.function == "video_outpainting"
    assert native.build_create(video) == body


def test_a_nested_vace_object_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        native.parse_create({"prompt": "p", "vace": {"top_scale": 1.5}})
    assert caught.value.param == "vace"


def test_an_unknown_field_is_named() -> None:
    with pytest.raises(InvalidRequest) as caught:
        native.parse_create({"prompt": "p", "colour": "red"})
    assert (caught.value.param, caught.value.message) == ("colour", "colour: unknown field.")


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="JSON object"):
        native.parse_create(["prompt"])


def test_build_create_leaves_out_what_is_unset() -> None:
    assert native.build_create(VideoRequest(prompt="p", mode=Mode.T2V)) == {
        "prompt": "p",
        "mode": "t2v",
    }


# DashScope's create accepts these extras and keeps them in `vace`; a request holding one cannot
# be re-sent as a native body (Client.prepare, the relay provider), as native knows only its
# VACE_PARAMETERS. Written out so that a fix shows up as XPASS.
DASHSCOPE_ONLY_EXTRAS = [
    "audio_setting",
    "audio_url",
    "enable_thinking",
    "extend_prompt",
    "media",
    "reference_url",
    "reference_video_description",
    "template",
]


@pytest.mark.parametrize("name", DASHSCOPE_ONLY_EXTRAS)
def test_a_request_from_dashscope_survives_the_native_body(name: str) -> None:
    value: object = "https://in.example/a.mp3" if name.endswith("url") else True
    if name == "media":
        value = [{"type": "driving_audio", "url": "https://in.example/a.mp3"}]
    body: dict[str, Any] = {"model": "wan2.7-r2v", "input": {"prompt": "p"}}
    if name in dashscope.INPUT_EXTRAS:
        body["input"][name] = value
    else:
        body["parameters"] = {name: value}
    video = dashscope.parse_create(body)
    assert video.vace == {name: value}
    assert native.parse_create(native.build_create(video)) == video


def test_render_task_is_the_canonical_json() -> None:
    task = Task(
        task_id="t1",
        status=Status.COMPLETED,
        progress=100,
        model="veo3",
        mode=Mode.T2V,
        prompt="A cat",
        created_at=CREATED,
        result=Result(video_url="https://out.example/v.mp4", duration=5.0),
        raw_status="SUCCEEDED",
    )
    data = native.render_task(task)
    assert data["status"] == "completed"
    assert data["created_at"] == "2025-09-29T14:18:52.331000Z"
    assert data["result"] == {
        "video_url": "https://out.example/v.mp4",
        "duration": 5.0,
        "format": "mp4",
    }
    # started_at and finished_at are always there, null until known; other unset fields are not.
    assert data["started_at"] is None and data["finished_at"] is None
    assert "error" not in data and "usage" not in data and "updated_at" not in data
    assert "raw_status" not in data


def test_a_failed_task_carries_its_error() -> None:
    task = Task(
        task_id="t1",
        status=Status.FAILED,
        error=TaskError(code="upstream_task_failed", message="it broke"),
    )
    data = native.render_task(task)
    assert data["error"] == {"code": "upstream_task_failed", "message": "it broke"}
    assert native.parse_task(data).error == task.error


def test_parse_task_ignores_unknown_fields_and_keeps_the_word() -> None:
    task = native.parse_task(
        {"task_id": "t1", "status": "processing", "progress": 40, "eta": 12, "raw_status": "X"}
    )
    assert task.status is Status.PROCESSING and task.progress == 40
    assert task.raw_status == "processing"


def test_render_error_shape() -> None:
    assert native.render_error("not_found", "No task t1.") == {
        "error": {"code": "not_found", "message": "No task t1."}
    }
    assert native.render_error("invalid_request", "duration: bad.", "duration") == {
        "error": {"code": "invalid_request", "message": "duration: bad.", "param": "duration"}
    }
