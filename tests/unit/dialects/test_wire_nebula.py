"""The nebula relay format: queued/in_progress/succeeded/failed, `url` and `error{code,message}`."""

from __future__ import annotations

from typing import Any

import pytest

from vidgate.dialects import native, nebula
from vidgate.models import Result, Status, Task, TaskError

TASK_ID = "video_69095b4ce0048190893a01510c0c98b0"
URL = "https://nebula-ads.oss-cn-guangzhou.aliyuncs.com/2025/11/18/abc123/video.mp4"
SEED_FAILED: dict[str, Any] = {
    "task_id": TASK_ID,
    "status": "failed",
    "format": "mp4",
    "error": {"code": 400, "message": "Prompt contains inappropriate content"},
}


def test_paths() -> None:
    assert nebula.CREATE_PATH == "/v1/video/generations"
    assert nebula.task_path(TASK_ID) == f"/v1/video/generations/{TASK_ID}"


@pytest.mark.parametrize(
    ("status", "word"),
    [
        (Status.QUEUED, "queued"),
        (Status.PROCESSING, "in_progress"),
        (Status.COMPLETED, "succeeded"),
        (Status.FAILED, "failed"),
    ],
)
def test_status_words_both_ways(status: Status, word: str) -> None:
    assert nebula.render_task(Task(task_id=TASK_ID, status=status))["status"] == word
    parsed = nebula.parse_task({"task_id": TASK_ID, "status": word, "format": "mp4"})
    assert parsed.status is status
    assert parsed.raw_status == word


def test_cancelled_is_failed_with_the_code_cancelled() -> None:
    error = TaskError(code="cancelled", message="Cancelled by the client.")
    data = nebula.render_task(Task(task_id=TASK_ID, status=Status.CANCELLED, error=error))
    assert data == {
        "task_id": TASK_ID,
        "status": "failed",
        "format": "mp4",
        "error": {"code": "cancelled", "message": "Cancelled by the client."},
    }
    parsed = nebula.parse_task(data)
    assert parsed.status is Status.CANCELLED
    assert parsed.error == error
    assert parsed.raw_status == "failed"


@pytest.mark.parametrize("word", ["throttled", "completed", "cancelled", "SUCCEEDED", None])
def test_an_unknown_word_is_running(word: str | None) -> None:
    task = nebula.parse_task({"task_id": TASK_ID, "status": word, "format": "mp4"})
    assert task.status is Status.PROCESSING
    assert not task.status.terminal
    assert task.raw_status == str(word)


def test_the_seed_answers_parse() -> None:
    queued = nebula.parse_task({"task_id": TASK_ID, "status": "queued", "format": "mp4"})
    assert queued.status is Status.QUEUED and queued.result is None and queued.progress == 0
    done = nebula.parse_task(
        {"task_id": TASK_ID, "status": "succeeded", "format": "mp4", "url": URL}
    )
    assert done.status is Status.COMPLETED and done.progress == 100
    assert done.result is not None
    assert (done.result.video_url, done.result.format) == (URL, "mp4")
    failed = nebula.parse_task(SEED_FAILED)
    assert failed.status is Status.FAILED
    # The seed's numeric code reads as the canonical (text) code.
    assert failed.error == TaskError(code="400", message="Prompt contains inappropriate content")


def test_render_task_answers_as_the_seed() -> None:
    done = Task(task_id=TASK_ID, status=Status.COMPLETED, result=Result(video_url=URL))
    assert nebula.render_task(done) == {
        "task_id": TASK_ID,
        "status": "succeeded",
        "format": "mp4",
        "url": URL,
    }
    failed = Task(
        task_id=TASK_ID,
        status=Status.FAILED,
        error=TaskError(code="400", message="Prompt contains inappropriate content"),
    )
    # An HTTP-style code travels as a JSON number, as in the seed.
    assert nebula.render_task(failed) == SEED_FAILED
    assert nebula.render_task(Task(task_id=TASK_ID, status=Status.QUEUED)) == {
        "task_id": TASK_ID,
        "status": "queued",
        "format": "mp4",
    }


def test_a_text_code_stays_text() -> None:
    failed = Task(
        task_id=TASK_ID,
        status=Status.FAILED,
        error=TaskError(code="upstream_task_failed", message="m"),
    )
    assert nebula.render_task(failed)["error"] == {"code": "upstream_task_failed", "message": "m"}


@pytest.mark.parametrize("code", ["²", "٣"])
def test_a_code_of_unicode_digits_renders_and_reads_back(code: str) -> None:
    failed = Task(task_id=TASK_ID, status=Status.FAILED, error=TaskError(code=code, message="m"))
    parsed = nebula.parse_task(nebula.render_task(failed))
    assert parsed.error == failed.error


def test_the_format_follows_the_result() -> None:
    done = Task(
        task_id=TASK_ID, status=Status.COMPLETED, result=Result(video_url=URL, format="webm")
    )
    data = nebula.render_task(done)
    assert data["format"] == "webm"
    parsed = nebula.parse_task(data)
    assert parsed.result is not None and parsed.result.format == "webm"
    assert nebula.parse_task({**data, "format": None}).result == Result(
        video_url=URL, format="mp4", source_url=URL
    )


def test_render_error_shape() -> None:
    assert nebula.render_error("video_not_ready", "Not yet.") == {
        "error": {"code": "video_not_ready", "message": "Not yet."}
    }


def test_create_bodies_are_the_native_ones() -> None:
    body = {"model": "veo3", "prompt": "p", "duration": 8, "size": "1280*720"}
    assert nebula.parse_create(body) == native.parse_create(body)
    assert nebula.build_create(nebula.parse_create(body)) == body
