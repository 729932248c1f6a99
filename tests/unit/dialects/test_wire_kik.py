"""The kik relay format: ms timestamps, `data[{url}]` and `error{code,message}`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vidgate.dialects import kik, native
from vidgate.models import Result, Status, Task, TaskError, VideoRequest

CREATED = datetime(2024, 6, 21, 20, 0, 0, tzinfo=UTC)  # 1719000000000 ms
UPDATED = datetime(2024, 6, 21, 20, 0, 50, tzinfo=UTC)  # 1719000050000 ms
WORDS = [
    (Status.QUEUED, "pending"),
    (Status.PROCESSING, "running"),
    (Status.COMPLETED, "success"),
    (Status.FAILED, "failed"),
    (Status.CANCELLED, "cancelled"),
]
SEED_RUNNING: dict[str, Any] = {
    "task_id": "a1b2c3d4-e5f6-...",
    "task_status": "running",
    "model": "wan2.1-t2v-turbo",
    "created": 1719000000000,
    "updated": 1719000005000,
    "completed": None,
    "data": [],
    "error": None,
}
SEED_SUCCESS: dict[str, Any] = {
    "task_id": "a1b2c3d4-e5f6-...",
    "task_status": "success",
    "model": "wan2.1-t2v-turbo",
    "created": 1719000000000,
    "updated": 1719000050000,
    "completed": 1719000050000,
    "data": [{"url": "https://..."}],
    "error": None,
}
SEED_FAILED: dict[str, Any] = {
    "task_id": "a1b2c3d4-e5f6-...",
    "task_status": "failed",
    "model": "wan2.1-t2v-turbo",
    "created": 1719000000000,
    "updated": 1719000050000,
    "completed": 1719000050000,
    "data": [],
    "error": {"code": "upstream_task_failed", "message": "upstream video generation task failed"},
}


def test_paths() -> None:
    assert kik.CREATE_PATH == "/video/v1/tasks"
    assert kik.task_path("a1") == "/video/v1/tasks/a1"


@pytest.mark.parametrize(("status", "word"), WORDS)
def test_status_words_both_ways(status: Status, word: str) -> None:
    assert kik.render_task(Task(task_id="t1", status=status))["task_status"] == word
    parsed = kik.parse_task({"task_id": "t1", "task_status": word, "data": [], "error": None})
    assert parsed.status is status
    assert parsed.raw_status == word


@pytest.mark.parametrize("word", ["paused", "queued", "SUCCESS", "completed", None])
def test_an_unknown_word_is_running(word: str | None) -> None:
    task = kik.parse_task({"task_id": "t1", "task_status": word, "data": [], "error": None})
    assert task.status is Status.PROCESSING
    assert not task.status.terminal
    assert task.raw_status == str(word)


def test_the_seed_answers_parse() -> None:
    running = kik.parse_task(SEED_RUNNING)
    assert running.status is Status.PROCESSING and running.progress == 0
    assert running.model == "wan2.1-t2v-turbo"
    assert running.created_at == CREATED
    assert running.updated_at == datetime(2024, 6, 21, 20, 0, 5, tzinfo=UTC)
    assert running.finished_at is None
    assert running.result is None and running.error is None

    success = kik.parse_task(SEED_SUCCESS)
    assert success.status is Status.COMPLETED and success.progress == 100
    assert success.finished_at == UPDATED
    assert success.result is not None and success.result.video_url == "https://..."

    failed = kik.parse_task(SEED_FAILED)
    assert failed.status is Status.FAILED
    assert failed.result is None
    assert failed.error == TaskError(
        code="upstream_task_failed", message="upstream video generation task failed"
    )


def test_times_are_ms_since_the_epoch() -> None:
    task = Task(
        task_id="a1",
        status=Status.COMPLETED,
        created_at=CREATED,
        updated_at=datetime(2024, 6, 21, 20, 0, 50, 123_456, tzinfo=UTC),
        finished_at=UPDATED,
    )
    data = kik.render_task(task)
    assert data["created"] == 1_719_000_000_000
    assert data["updated"] == 1_719_000_050_123
    assert data["completed"] == 1_719_000_050_000
    assert all(isinstance(data[name], int) for name in ("created", "updated", "completed"))


@pytest.mark.parametrize("status", [Status.QUEUED, Status.PROCESSING])
def test_completed_is_null_until_the_task_ends(status: Status) -> None:
    task = Task(task_id="a1", status=status, created_at=CREATED, finished_at=UPDATED)
    assert kik.render_task(task)["completed"] is None


def test_render_task_answers_as_the_seed() -> None:
    success = Task(
        task_id="a1b2c3d4-e5f6-...",
        status=Status.COMPLETED,
        model="wan2.1-t2v-turbo",
        created_at=CREATED,
        updated_at=UPDATED,
        finished_at=UPDATED,
        result=Result(video_url="https://..."),
    )
    assert kik.render_task(success) == SEED_SUCCESS
    failed = success.model_copy(
        update={
            "status": Status.FAILED,
            "result": None,
            "error": TaskError(
                code="upstream_task_failed", message="upstream video generation task failed"
            ),
        }
    )
    assert kik.render_task(failed) == SEED_FAILED


def test_a_cancelled_task_carries_its_reason() -> None:
    error = TaskError(code="cancelled", message="Cancelled by the client.")
    task = Task(task_id="a1", status=Status.CANCELLED, error=error, finished_at=UPDATED)
    data = kik.render_task(task)
    assert data["task_status"] == "cancelled"
    assert data["error"] == {"code": "cancelled", "message": "Cancelled by the client."}
    assert data["data"] == []
    assert kik.parse_task(data).error == error


def test_a_success_without_data_has_no_result() -> None:
    task = kik.parse_task({**SEED_SUCCESS, "data": []})
    assert task.status is Status.COMPLETED and task.result is None
    assert kik.parse_task({**SEED_SUCCESS, "data": [{"width": 1280}]}).result is None


def test_render_created_and_render_error() -> None:
    assert kik.render_created(Task(task_id="a1", status=Status.QUEUED)) == {"task_id": "a1"}
    assert kik.render_error("not_found", "No task a1.") == {
        "error": {"code": "not_found", "message": "No task a1."}
    }


def test_create_bodies_are_the_native_ones() -> None:
    body = {"model": "wan2.1-t2v-turbo", "prompt": "...", "duration": 5, "watermark": False}
    assert kik.parse_create(body) == native.parse_create(body)
    video = VideoRequest(model="wan2.1-t2v-turbo", prompt="...", vace={"watermark": False})
    assert kik.build_create(video) == {
        "model": "wan2.1-t2v-turbo",
        "prompt": "...",
        "watermark": False,
    }
