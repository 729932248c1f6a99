"""OpenAI's videos dialect: the video object, `seconds` as text, unix times, its error shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vidgate.dialects import openai
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, Result, Status, Task, TaskError, VideoRequest

CREATED = datetime(2024, 6, 21, 20, 0, 0, 750_000, tzinfo=UTC)  # 1719000000 s
FINISHED = datetime(2024, 6, 21, 20, 1, 40, tzinfo=UTC)  # 1719000100 s
EXPIRES = datetime(2024, 6, 22, 20, 1, 40, tzinfo=UTC)  # 1719086500 s


def test_paths() -> None:
    assert openai.CREATE_PATH == "/v1/videos"
    assert openai.task_path("video_1") == "/v1/videos/video_1"


@pytest.mark.parametrize(
    ("status", "word"),
    [
        (Status.QUEUED, "queued"),
        (Status.PROCESSING, "in_progress"),
        (Status.COMPLETED, "completed"),
        (Status.FAILED, "failed"),
    ],
)
def test_status_words_both_ways(status: Status, word: str) -> None:
    assert openai.render_task(Task(task_id="v1", status=status))["status"] == word
    parsed = openai.parse_task({"id": "v1", "object": "video", "status": word})
    assert parsed.status is status
    assert parsed.raw_status == word


def test_cancelled_is_failed_with_the_code_cancelled() -> None:
    error = TaskError(code="cancelled", message="Cancelled by the client.")
    data = openai.render_task(Task(task_id="v1", status=Status.CANCELLED, error=error))
    assert data["status"] == "failed"
    assert data["error"] == {"code": "cancelled", "message": "Cancelled by the client."}
    assert openai.parse_task(data).status is Status.CANCELLED
    other = {**data, "error": {"code": "moderation_blocked", "message": "no"}}
    assert openai.parse_task(other).status is Status.FAILED


@pytest.mark.parametrize("word", ["moderating", "processing", "succeeded", "cancelled", None])
def test_an_unknown_word_is_running(word: str | None) -> None:
    task = openai.parse_task({"id": "v1", "object": "video", "status": word, "progress": 5})
    assert task.status is Status.PROCESSING
    assert not task.status.terminal
    assert task.progress == 5
    assert task.raw_status == str(word)


def test_render_task_is_a_video_object() -> None:
    task = Task(
        task_id="v1",
        status=Status.COMPLETED,
        progress=100,
        model="sora-2",
        prompt="A calico cat playing a piano on stage",
        duration=8,
        size="1280*720",
        created_at=CREATED,
        finished_at=FINISHED,
        result=Result(video_url="https://out.example/v.mp4", expires_at=EXPIRES),
    )
    assert openai.render_task(task) == {
        "id": "v1",
        "object": "video",
        "model": "sora-2",
        "status": "completed",
        "progress": 100,
        "created_at": 1_719_000_000,
        "completed_at": 1_719_000_100,
        "expires_at": 1_719_086_500,
        "seconds": "8",
        "size": "1280x720",
        "error": None,
        "remixed_from_video_id": None,
        "prompt": "A calico cat playing a piano on stage",
    }


@pytest.mark.parametrize("status", [Status.QUEUED, Status.PROCESSING])
def test_completed_at_is_null_until_the_video_ends(status: Status) -> None:
    task = Task(task_id="v1", status=status, progress=30, created_at=CREATED, finished_at=FINISHED)
    data = openai.render_task(task)
    assert data["completed_at"] is None
    assert data["expires_at"] is None and data["seconds"] is None and data["size"] is None
    assert data["progress"] == 30


def test_a_failed_video_finishes_too() -> None:
    error = TaskError(code="upstream_task_failed", message="it broke")
    data = openai.render_task(
        Task(task_id="v1", status=Status.FAILED, error=error, finished_at=FINISHED)
    )
    assert data["completed_at"] == 1_719_000_100
    assert data["error"] == {"code": "upstream_task_failed", "message": "it broke"}


def test_parse_task_reads_unix_times_and_points_at_the_content() -> None:
    data: dict[str, Any] = {
        "id": "video_68d7",
        "object": "video",
        "model": "sora-2",
        "status": "completed",
        "progress": 100,
        "created_at": 1_719_000_000,
        "completed_at": 1_719_000_100,
        "expires_at": 1_719_086_500,
        "seconds": "8",
        "size": "720x1280",
        "error": None,
        "remixed_from_video_id": None,
        "prompt": "p",
    }
    task = openai.parse_task(data)
    assert task.task_id == "video_68d7"
    assert task.status is Status.COMPLETED and task.progress == 100
    assert (task.model, task.prompt, task.duration, task.size) == ("sora-2", "p", 8, "720x1280")
    assert task.created_at == datetime(2024, 6, 21, 20, 0, tzinfo=UTC)
    assert task.finished_at == FINISHED
    assert task.result == Result(video_url="/v1/videos/video_68d7/content", expires_at=EXPIRES)
    assert task.error is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "insufficient_quota"),
        (403, "permission_error"),
        (404, "invalid_request_error"),
        (409, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
def test_render_error_shape(status: int, kind: str) -> None:
    assert openai.render_error(status, "some_code", "Why.") == {
        "error": {"message": "Why.", "type": kind, "param": None, "code": "some_code"}
    }


def test_errors_name_the_param_in_this_dialects_words() -> None:
    assert openai.render_error(400, "invalid_request", "Bad.", "seconds")["error"]["param"] == (
        "seconds"
    )
    assert openai.wire_param("duration") == "seconds"
    assert openai.wire_param("img_url") == "input_reference"
    assert openai.wire_param("file") == "input_reference"
    assert openai.wire_param("task_id") == "video_id"
    assert openai.wire_param("model") == "model"
    assert openai.wire_param(None) is None


def test_render_list_and_render_deleted() -> None:
    videos = [Task(task_id=f"v{n}", status=Status.QUEUED) for n in (3, 2, 1)]
    page = openai.render_list(videos, has_more=True)
    assert page["object"] == "list"
    assert [video["id"] for video in page["data"]] == ["v3", "v2", "v1"]
    assert (page["first_id"], page["last_id"], page["has_more"]) == ("v3", "v1", True)
    assert openai.render_list([], has_more=False) == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    assert openai.render_deleted("v1") == {"id": "v1", "object": "video.deleted", "deleted": True}


def test_parse_create_reads_the_sdk_body() -> None:
    video = openai.parse_create(
        {"model": "sora-2-pro", "prompt": "p", "seconds": "12", "size": "1024x1792"}
    )
    assert video == VideoRequest(model="sora-2-pro", prompt="p", duration=12, size="1024x1792")
    assert openai.parse_create({"prompt": "p", "seconds": 4}).duration == 4
    assert openai.parse_create({"prompt": "p"}).model == "sora-2"


@pytest.mark.parametrize(
    "reference", ["https://in.example/a.png", {"image_url": "https://in.example/a.png"}]
)
def test_an_input_reference_makes_it_i2v(reference: object) -> None:
    video = openai.parse_create({"prompt": "p", "input_reference": reference})
    assert video.img_url == "https://in.example/a.png"
    assert video.mode is Mode.I2V


def test_an_uploaded_reference_wins() -> None:
    video = openai.parse_create(
        {"prompt": "p", "input_reference": "https://in.example/a.png"},
        input_reference_url="https://gateway.example/files/f1",
    )
    assert video.img_url == "https://gateway.example/files/f1"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "p", "seconds": "eight"}, "seconds"),
        ({"prompt": "p", "seconds": "4.5"}, "seconds"),
        ({"prompt": "p", "seconds": 4.0}, "seconds"),
        ({"prompt": "p", "quality": "hd"}, "quality"),
        ({"prompt": "p", "input_reference": {"file_id": "file_1"}}, "input_reference"),
        ({"prompt": "p", "input_reference": {"url": "https://x"}}, "input_reference.url"),
        ({"prompt": "p", "input_reference": 5}, "input_reference"),
        ({"prompt": 5}, "prompt"),
    ],
)
def test_create_errors_name_the_param(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        openai.parse_create(body)
    assert caught.value.param == param


def test_build_create_writes_seconds_as_text_and_sizes_with_x() -> None:
    video = VideoRequest(
        model="wan2.2-i2v-plus",
        prompt="p",
        duration=5,
        size="832*480",
        img_url="https://in.example/a.png",
        negative_prompt="dropped",
    )
    assert openai.build_create(video) == {
        "prompt": "p",
        "model": "wan2.2-i2v-plus",
        "seconds": "5",
        "size": "832x480",
        "input_reference": "https://in.example/a.png",
    }
    assert openai.build_create(VideoRequest()) == {"prompt": ""}
