"""vidgate's own dialect (seed 002): flat request bodies and the canonical task JSON."""

from __future__ import annotations

from typing import Any

from vidgate.dialects.common import StatusWords, require_object, validate_request
from vidgate.errors import InvalidRequest
from vidgate.models import Status, Task, VideoRequest

__all__ = [
    "CREATE_PATH",
    "STATUS",
    "VACE_PARAMETERS",
    "build_create",
    "parse_create",
    "parse_task",
    "render_error",
    "render_task",
    "task_path",
]

CREATE_PATH = "/v1/tasks"
STATUS = StatusWords({s: s.value for s in Status})
VACE_PARAMETERS = frozenset(
    {
        "obj_or_bg",
        "control_condition",
        "strength",
        "mask_type",
        "mask_frame_id",
        "expand_ratio",
        "top_scale",
        "bottom_scale",
        "left_scale",
        "right_scale",
        "prompt_extend",
        "watermark",
        "shot_type",
        "audio",
        "first_clip_url",
        "last_clip_url",
    }
)


def task_path(task_id: str) -> str:
    return f"/v1/tasks/{task_id}"


def parse_create(body: object) -> VideoRequest:
    """A flat native create body as the canonical request."""
    fields = require_object(body)
    if "vace" in fields:
        raise InvalidRequest("vace parameters go at the top level of the body.", param="vace")
    plain = {k: v for k, v in fields.items() if k not in VACE_PARAMETERS}
    vace = {k: v for k, v in fields.items() if k in VACE_PARAMETERS}
    return validate_request({**plain, "vace": vace})


def build_create(request: VideoRequest) -> dict[str, Any]:
    """The flat body that creates this request on a native gateway."""
    body = request.model_dump(mode="json", exclude_none=True, exclude={"vace"})
    body.update(request.vace)
    return body


def render_task(task: Task) -> dict[str, Any]:
    """The task as the native API shows it."""
    data = task.model_dump(mode="json", exclude_none=True)
    data.setdefault("started_at", None)
    data.setdefault("finished_at", None)
    return data


def parse_task(data: object) -> Task:
    """A native task JSON as the canonical task."""
    fields = require_object(data, "A task")
    task = Task.model_validate(
        {k: v for k, v in fields.items() if k in Task.model_fields and k != "raw_status"}
    )
    task.raw_status = str(fields.get("status"))
    return task


def render_error(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    return {"error": error}
