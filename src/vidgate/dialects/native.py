"""vidgate's own dialect, the WaveAPI-style native task API: flat bodies, canonical task JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects import dashscope
from vidgate.dialects.common import StatusWords, require_object, size_text, validate_request
from vidgate.dialects.outbound import Call, Outbound, TaskPage, text
from vidgate.errors import InvalidRequest
from vidgate.models import Status, Task, VideoRequest

__all__ = [
    "CREATE_PATH",
    "OUTBOUND",
    "STATUS",
    "VACE_PARAMETERS",
    "FlatOutbound",
    "NativeOutbound",
    "build_create",
    "parse_create",
    "parse_task",
    "render_error",
    "render_task",
    "render_task_page",
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
EXTRA_FIELDS = VACE_PARAMETERS | dashscope.INPUT_EXTRAS | dashscope.PARAMETER_EXTRAS
"""Fields a flat body carries beside the canonical ones: the vace parameters and the model
extras the DashScope API takes, so that a request made there can be relayed here."""


def task_path(task_id: str) -> str:
    return f"/v1/tasks/{task_id}"


def parse_create(body: object) -> VideoRequest:
    """A flat native create body as the canonical request."""
    fields = require_object(body)
    if "vace" in fields:
        raise InvalidRequest("vace parameters go at the top level of the body.", param="vace")
    plain = {k: v for k, v in fields.items() if k not in EXTRA_FIELDS}
    vace = {k: v for k, v in fields.items() if k in EXTRA_FIELDS}
    return validate_request({**plain, "vace": vace})


def build_create(request: VideoRequest, shape: Shape | None = None) -> dict[str, Any]:
    """The flat body that creates this request on a native gateway (or a relay of the same
    shape); a resolved `shape` goes as `duration`, `size` (as the model spells it) and `fps`."""
    body = request.model_dump(mode="json", exclude_none=True, exclude={"vace"})
    body.update(request.vace)
    if shape is not None:
        body.pop("resolution", None)
        body.pop("ratio", None)
        body.update(duration=shape.duration, size=size_text(request.model, shape), fps=shape.fps)
    return body


def render_task_page(
    data: list[dict[str, Any]], has_more: bool, **extra: object
) -> dict[str, object]:
    """A native listing of rendered tasks: `next_after` is the last one's id when more follow."""
    next_after = data[-1]["task_id"] if has_more and data else None
    return {"object": "list", "data": data, "has_more": has_more, "next_after": next_after, **extra}


def render_task(task: Task) -> dict[str, Any]:
    """The task as the native API shows it."""
    data = task.model_dump(mode="json", exclude_none=True)
    if task.cost is not None and "usage" in data:
        data["usage"]["cost"] = task.cost
    data.setdefault("started_at", None)
    data.setdefault("finished_at", None)
    return data


def parse_task(data: object) -> Task:
    """A native task JSON as the canonical task."""
    fields = require_object(data, "A task")
    task = Task.model_validate(
        {
            k: v
            for k, v in fields.items()
            if k in Task.model_fields and k not in ("raw_status", "cost")
        }
    )
    task.raw_status = str(fields.get("status"))
    return task


def render_error(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    return {"error": error}


class FlatOutbound(Outbound):
    """A server that takes the native flat create body: a native gateway, or a relay.

    `status_field` is the field that only a whole task has, not a bare `{"task_id"}` create
    answer; `path` and `parse` are the dialect's `task_path` and `parse_task`.
    """

    def __init__(
        self,
        name: str,
        status: StatusWords,
        create_path: str,
        path: Callable[[str], str],
        parse: Callable[[object], Task],
        status_field: str = "status",
    ) -> None:
        self.name = name
        self.status = status
        self.create_path = create_path
        self.path = path
        self._parse = parse
        self.status_field = status_field

    def parse(self, data: object) -> Task:
        return self._parse(data)

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        return Call("POST", self.create_path, build_create(request, shape))

    def submitted_id(self, data: object) -> str | None:
        return text(data.get("task_id")) if isinstance(data, dict) else None

    def created(self, data: object, request: VideoRequest) -> Task:
        if isinstance(data, dict) and self.status_field in data:
            return self.parse(data)
        # Only an id comes back: the task has just been queued.
        task_id = self.submitted_id(data) or ""
        return Task(task_id=task_id, status=Status.QUEUED, model=request.model or "")

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", self.path(task_id))

    def cancel(self, task_id: str) -> Call | None:
        return Call("POST", f"{self.path(task_id)}/cancel")


class NativeOutbound(FlatOutbound):
    """A native gateway: every call of the flat dialects, and listing."""

    def list(
        self, *, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> Call | None:
        params: dict[str, str | int] = {"limit": limit}
        for name, value in (("after", after), ("status", status), ("model", model)):
            if value:
                params[name] = str(value)
        return Call("GET", CREATE_PATH, params=params)

    def page(self, data: Any, status: Status | None) -> TaskPage:
        tasks = [self.parse(item) for item in data.get("data", [])]
        return TaskPage(tasks, bool(data.get("has_more")), data.get("next_after"))


OUTBOUND = NativeOutbound("native", STATUS, CREATE_PATH, task_path, parse_task)
