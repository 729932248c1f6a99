"""Another gateway as an upstream, in the native (seed 002), kik (003) or nebula (004) dialect."""

from __future__ import annotations

from typing import Any, Literal

from vidgate.dialects import kik, native, nebula
from vidgate.models import Task, VideoRequest
from vidgate.providers.upstream import Call

__all__ = ["RelayAdapter"]

Dialect = Literal["native", "kik", "nebula"]
MODULES = {"native": native, "kik": kik, "nebula": nebula}


class RelayAdapter:
    """A relay addressed from its host root: paths are the dialect's own."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.module = MODULES[dialect]

    def submit(self, request: VideoRequest) -> Call:
        body = native.build_create(request)
        body.pop("callback_url", None)
        return Call("POST", self.module.CREATE_PATH, body)

    def submitted_id(self, data: Any) -> str | None:
        task_id = data.get("task_id") if isinstance(data, dict) else None
        return str(task_id) if task_id else None

    def poll(self, upstream_id: str) -> Call:
        return Call("GET", self.module.task_path(upstream_id))

    def parse(self, data: Any) -> Task:
        parsed: Task = self.module.parse_task(data)
        return parsed

    def cancel(self, upstream_id: str) -> Call | None:
        if self.dialect == "nebula":
            return None
        return Call("POST", f"{self.module.task_path(upstream_id)}/cancel")

    def content(self, upstream_id: str) -> Call | None:
        if self.dialect == "nebula":
            return Call("GET", f"{nebula.task_path(upstream_id)}/content")
        return None

    def error(self, data: Any) -> tuple[str | None, str | None]:
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            return None, None
        code, message = error.get("code"), error.get("message")
        return (str(code) if code else None), (str(message) if message else None)
