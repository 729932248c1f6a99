"""The nebula relay's video dialect: queued/in_progress/succeeded/failed and `url`."""

from __future__ import annotations

from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects import native
from vidgate.dialects.common import StatusWords, require_object
from vidgate.dialects.outbound import Call
from vidgate.models import Result, Status, Task, TaskError, VideoRequest

__all__ = [
    "CREATE_PATH",
    "OUTBOUND",
    "STATUS",
    "NebulaOutbound",
    "build_create",
    "parse_create",
    "parse_task",
    "render_error",
    "render_task",
    "task_path",
]

CREATE_PATH = "/v1/video/generations"
STATUS = StatusWords(
    {
        Status.QUEUED: "queued",
        Status.PROCESSING: "in_progress",
        Status.COMPLETED: "succeeded",
        Status.FAILED: "failed",
        Status.CANCELLED: "failed",
    },
)
"""nebula has no cancelled status: a cancelled task reads as failed with code `cancelled`."""
STATUS.from_wire["failed"] = Status.FAILED


def task_path(task_id: str) -> str:
    return f"/v1/video/generations/{task_id}"


def parse_create(body: object) -> VideoRequest:
    """nebula's create body is flat, as the native one is."""
    return native.parse_create(body)


def build_create(request: VideoRequest, shape: Shape | None = None) -> dict[str, Any]:
    return native.build_create(request, shape)


def render_task(task: Task) -> dict[str, Any]:
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "status": STATUS.wire(task.status),
        "format": task.result.format if task.result is not None else "mp4",
    }
    if task.result is not None:
        data["url"] = task.result.video_url
    if task.error is not None:
        code = task.error.code
        # The nebula relay format spells HTTP-style codes as numbers: {"code": 400, "message": …}.
        wire_code: int | str = int(code) if code.isascii() and code.isdigit() else code
        data["error"] = {"code": wire_code, "message": task.error.message}
    return data


def render_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def parse_task(data: object) -> Task:
    fields = require_object(data, "A task")
    raw = fields.get("status")
    status = STATUS.canonical(raw) or Status.PROCESSING
    url = fields.get("url")
    error = fields.get("error")
    if status is Status.FAILED and isinstance(error, dict) and error.get("code") == "cancelled":
        status = Status.CANCELLED
    return Task(
        task_id=str(fields.get("task_id", "")),
        status=status,
        progress=100 if status is Status.COMPLETED else 0,
        result=Result(video_url=url, format=str(fields.get("format") or "mp4"), source_url=url)
        if status is Status.COMPLETED and isinstance(url, str)
        else None,
        error=TaskError(code=str(error.get("code")), message=str(error.get("message")))
        if isinstance(error, dict)
        else None,
        raw_status=str(raw),
    )


class NebulaOutbound(native.FlatOutbound):
    """A nebula relay: flat bodies, no cancel, no listing; results without a `url` come from
    the task's download call."""

    def parse(self, data: object) -> Task:
        task = super().parse(data)
        content = self.content(task.task_id)
        if task.status is Status.COMPLETED and task.result is None and content is not None:
            task = task.model_copy(update={"result": Result(video_url=content.path)})
        return task

    def cancel(self, task_id: str) -> Call | None:
        return None

    def content(self, task_id: str) -> Call | None:
        return Call("GET", f"{task_path(task_id)}/content")


OUTBOUND = NebulaOutbound("nebula", STATUS, CREATE_PATH, task_path, parse_task)
