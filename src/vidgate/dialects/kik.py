"""The kik relay's video dialect: ms timestamps, `data[{url}]`, `error{code,message}`."""

from __future__ import annotations

from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects import native
from vidgate.dialects.common import StatusWords, from_millis, millis, require_object
from vidgate.models import Result, Status, Task, TaskError, VideoRequest

__all__ = [
    "CREATE_PATH",
    "OUTBOUND",
    "STATUS",
    "build_create",
    "parse_create",
    "parse_task",
    "render_created",
    "render_error",
    "render_task",
    "task_path",
]

CREATE_PATH = "/video/v1/tasks"
STATUS = StatusWords(
    {
        Status.QUEUED: "pending",
        Status.PROCESSING: "running",
        Status.COMPLETED: "success",
        Status.FAILED: "failed",
        Status.CANCELLED: "cancelled",
    }
)


def task_path(task_id: str) -> str:
    return f"/video/v1/tasks/{task_id}"


def parse_create(body: object) -> VideoRequest:
    """kik's create body is flat, as the native one is."""
    return native.parse_create(body)


def build_create(request: VideoRequest, shape: Shape | None = None) -> dict[str, Any]:
    return native.build_create(request, shape)


def render_created(task: Task) -> dict[str, Any]:
    return {"task_id": task.task_id}


def render_task(task: Task) -> dict[str, Any]:
    finished = task.finished_at if task.status.terminal else None
    return {
        "task_id": task.task_id,
        "task_status": STATUS.wire(task.status),
        "model": task.model,
        "created": millis(task.created_at),
        "updated": millis(task.updated_at),
        "completed": millis(finished),
        "data": [{"url": task.result.video_url}] if task.result is not None else [],
        "error": task.error.model_dump() if task.error is not None else None,
    }


def render_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def parse_task(data: object) -> Task:
    fields = require_object(data, "A task")
    raw = fields.get("task_status")
    status = STATUS.canonical(raw) or Status.PROCESSING
    items = fields.get("data")
    url = None
    if isinstance(items, list) and items and isinstance(items[0], dict):
        url = items[0].get("url")
    error = fields.get("error")
    return Task(
        task_id=str(fields.get("task_id", "")),
        status=status,
        progress=100 if status is Status.COMPLETED else 0,
        model=str(fields.get("model") or ""),
        created_at=from_millis(fields.get("created")),
        updated_at=from_millis(fields.get("updated")),
        finished_at=from_millis(fields.get("completed")),
        result=Result(video_url=url, source_url=url)
        if status is Status.COMPLETED and isinstance(url, str)
        else None,
        error=TaskError(code=str(error.get("code")), message=str(error.get("message")))
        if isinstance(error, dict)
        else None,
        raw_status=str(raw),
    )


OUTBOUND = native.FlatOutbound(
    "kik", STATUS, CREATE_PATH, task_path, parse_task, status_field="task_status"
)
"""A kik relay: flat bodies, a bare `{"task_id"}` create answer, no listing."""
