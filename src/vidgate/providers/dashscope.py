"""DashScope Wan as an upstream: submit with X-DashScope-Async, poll /tasks, cancel PENDING."""

from __future__ import annotations

from typing import Any

from vidgate.catalog import MODELS
from vidgate.dialects import dashscope
from vidgate.models import Mode, Task, VideoRequest
from vidgate.providers.upstream import Call

__all__ = ["DashScopeAdapter", "shape_parameters"]

RESOLUTION_MODES = (Mode.I2V, Mode.KF2V)


def shape_parameters(request: VideoRequest, resolved: dict[str, Any]) -> VideoRequest:
    """Spell size and duration as each Wan model expects them.

    i2v and kf2v models take `resolution`; the others take `size` as `W*H`. Models with one
    fixed duration take none.
    """
    spec = MODELS.get(request.model or "")
    fixed = spec is not None and len(spec.durations) == 1
    mode = request.mode
    changes: dict[str, Any] = {"ratio": None, "fps": None}
    if mode in RESOLUTION_MODES:
        changes.update(resolution=resolved["resolution"], size=None)
        if mode is Mode.I2V:
            changes["ratio"] = None
    else:
        changes.update(size=f"{resolved['width']}*{resolved['height']}", resolution=None)
    changes["duration"] = None if fixed else resolved["duration"]
    return request.model_copy(update=changes)


class DashScopeAdapter:
    """DashScope's task API, through the dashscope dialect."""

    def submit(self, request: VideoRequest) -> Call:
        path, body = dashscope.build_create(request)
        return Call("POST", path, body, {"X-DashScope-Async": "enable"})

    def submitted_id(self, data: Any) -> str | None:
        output = data.get("output") if isinstance(data, dict) else None
        task_id = output.get("task_id") if isinstance(output, dict) else None
        return str(task_id) if task_id else None

    def poll(self, upstream_id: str) -> Call:
        return Call("GET", dashscope.task_path(upstream_id))

    def parse(self, data: Any) -> Task:
        return dashscope.parse_task(data)

    def cancel(self, upstream_id: str) -> Call | None:
        return Call("POST", f"{dashscope.task_path(upstream_id)}/cancel")

    def content(self, upstream_id: str) -> Call | None:
        return None

    def error(self, data: Any) -> tuple[str | None, str | None]:
        if not isinstance(data, dict):
            return None, None
        return _text(data.get("code")), _text(data.get("message"))


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
