"""How the client speaks each dialect: which call does what, and how answers become Tasks.

Bodies and task JSON go through the same `vidgate.dialects` modules that the gateway uses;
this module only adds what a client needs on top: paths per operation, the create answer of
dialects that return only an id, list pages, and which extras (events, long-poll, uploads)
a server of that dialect offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from vidgate.catalog import DEFAULT_MODELS
from vidgate.dialects import dashscope, kik, native, nebula, openai
from vidgate.dialects.common import StatusWords
from vidgate.models import Result, Status, Task, VideoRequest, detect_mode

__all__ = [
    "DIALECTS",
    "Call",
    "DashScopeDialect",
    "Dialect",
    "NebulaDialect",
    "OpenAIDialect",
    "RelayDialect",
    "TaskPage",
    "WireModule",
    "default_model",
]


class WireModule(Protocol):
    """What a `vidgate.dialects` module offers the client."""

    STATUS: StatusWords

    def task_path(self, task_id: str) -> str: ...

    def parse_task(self, data: object) -> Task: ...


@dataclass(frozen=True)
class Call:
    """One HTTP call, relative to the client's base URL."""

    method: str
    path: str
    json: Any = None
    params: dict[str, str | int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskPage:
    """One page of a task listing; pass `next_after` as `after` for the next one."""

    data: list[Task]
    has_more: bool
    next_after: str | None


class Dialect:
    """The native dialect (a vidgate gateway, seed 002); the others override what differs."""

    name = "native"
    wire: WireModule = native
    events = True
    """`GET /v1/tasks/{id}/events` streams the task's changes as they happen."""
    long_poll = True
    """`GET /v1/tasks/{id}?wait=N` holds the answer until the task changes or ends."""
    uploads = True
    """`POST /v1/files` takes local files; elsewhere they travel as `data:` URLs."""
    percent_progress = True
    fills_model = False
    """Whether the client must name the default model itself (the server will not)."""
    can_cancel = True

    def create(self, request: VideoRequest) -> Call:
        return Call("POST", native.CREATE_PATH, native.build_create(request))

    def created(self, data: object, request: VideoRequest) -> Task:
        return self.parse(data)

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", self.wire.task_path(task_id))

    def parse(self, data: object) -> Task:
        return self.wire.parse_task(data)

    def cancel(self, task_id: str) -> Call | None:
        if not self.can_cancel:
            return None
        return Call("POST", f"{self.wire.task_path(task_id)}/cancel")

    def list(
        self, *, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> Call | None:
        params: dict[str, str | int] = {"limit": limit}
        for name, value in (("after", after), ("status", status), ("model", model)):
            if value:
                params[name] = str(value)
        return Call("GET", native.CREATE_PATH, params=params)

    def page(self, data: Any, status: Status | None) -> TaskPage:
        tasks = [self.parse(item) for item in data.get("data", [])]
        return TaskPage(tasks, bool(data.get("has_more")), data.get("next_after"))

    def word(self, task: Task) -> str:
        """The task's status in this dialect's words."""
        return task.raw_status or self.wire.STATUS.wire(task.status)


class DashScopeDialect(Dialect):
    """DashScope directly: async header, image2video for kf2v, `{output: …}` answers."""

    name = "dashscope"
    wire = dashscope
    events = long_poll = uploads = percent_progress = False
    fills_model = True

    def create(self, request: VideoRequest) -> Call:
        path, body = dashscope.build_create(request)
        return Call("POST", path, body, headers={"X-DashScope-Async": "enable"})

    def created(self, data: object, request: VideoRequest) -> Task:
        return self.parse(data).model_copy(update={"model": request.model or ""})

    def list(
        self, *, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> Call | None:
        params: dict[str, str | int] = {"page_size": limit, "page_no": int(after or 1)}
        if status is not None:
            params["status"] = dashscope.STATUS.wire(status)
        if model:
            params["model_name"] = model
        return Call("GET", "/tasks", params=params)

    def page(self, data: Any, status: Status | None) -> TaskPage:
        tasks = [
            self.parse(
                {"output": {"task_id": item.get("task_id"), "task_status": item.get("status")}}
            ).model_copy(update={"model": str(item.get("model_name") or "")})
            for item in data.get("data", [])
        ]
        page_no, pages = int(data.get("page_no") or 1), int(data.get("total_page") or 1)
        more = page_no < pages
        return TaskPage(tasks, more, str(page_no + 1) if more else None)


class RelayDialect(Dialect):
    """A relay in seed 003's dialect (kik, `/video/v1/tasks`), flat bodies, no listing."""

    name = "kik"
    wire = kik
    events = long_poll = uploads = percent_progress = False
    fills_model = True
    status_field = "task_status"

    def create(self, request: VideoRequest) -> Call:
        return Call("POST", kik.CREATE_PATH, kik.build_create(request))

    def created(self, data: object, request: VideoRequest) -> Task:
        if isinstance(data, dict) and self.status_field in data:
            return self.parse(data)
        # Only an id comes back (seed 003): the task has just been queued.
        task_id = data.get("task_id") if isinstance(data, dict) else None
        return Task(task_id=str(task_id or ""), status=Status.QUEUED, model=request.model or "")

    def list(
        self, *, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> Call | None:
        return None


class NebulaDialect(RelayDialect):
    """A relay in seed 004's dialect (`/v1/video/generations`); it has no cancel."""

    name = "nebula"
    wire = nebula
    status_field = "status"
    can_cancel = False

    def create(self, request: VideoRequest) -> Call:
        return Call("POST", nebula.CREATE_PATH, nebula.build_create(request))

    def parse(self, data: object) -> Task:
        task = nebula.parse_task(data)
        if task.status is Status.COMPLETED and task.result is None:
            # Sora results on nebula come from a separate download call (seed 004).
            content = f"{nebula.task_path(task.task_id)}/content"
            task = task.model_copy(update={"result": Result(video_url=content)})
        return task


class OpenAIDialect(Dialect):
    """OpenAI's `/v1/videos`; the video itself comes from `/v1/videos/{id}/content`."""

    name = "openai"
    wire = openai
    events = long_poll = uploads = False
    can_cancel = False

    def create(self, request: VideoRequest) -> Call:
        return Call("POST", openai.CREATE_PATH, openai.build_create(request))

    def list(
        self, *, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> Call | None:
        params: dict[str, str | int] = {"limit": limit}
        if after:
            params["after"] = after
        return Call("GET", openai.CREATE_PATH, params=params)

    def page(self, data: Any, status: Status | None) -> TaskPage:
        tasks = [self.parse(item) for item in data.get("data", [])]
        more = bool(data.get("has_more"))
        last = data.get("last_id") or (tasks[-1].task_id if tasks else None)
        if status is not None:
            tasks = [task for task in tasks if task.status is status]
        return TaskPage(tasks, more, last if more else None)


DIALECTS: dict[str, Dialect] = {
    "vidgate": Dialect(),
    "dashscope": DashScopeDialect(),
    "kik": RelayDialect(),
    "nebula": NebulaDialect(),
    "openai": OpenAIDialect(),
}


def default_model(request: VideoRequest) -> str:
    """The model seed 000 picks for the request's mode."""
    return request.model or DEFAULT_MODELS[detect_mode(request)]
