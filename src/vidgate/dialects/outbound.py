"""The calling side of a dialect: the requests a client sends in it and how it reads answers.

The SDK and the upstream providers both speak to servers through these objects, one per dialect
(`native.OUTBOUND`, `dashscope.OUTBOUND`, …). They do no I/O: they build `Call`s, and turn
answers, pages and error bodies into canonical values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.models import Status, Task, VideoRequest

__all__ = ["Call", "ErrorFields", "Outbound", "TaskPage", "error_fields", "text"]


@dataclass(frozen=True)
class Call:
    """One HTTP request, relative to the base URL of the server it goes to."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str | int] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskPage:
    """One page of a task listing; pass `next_after` as `after` for the next one."""

    data: list[Task]
    has_more: bool
    next_after: str | None


class ErrorFields(NamedTuple):
    """What an error body says: its code, its message and the request id it names."""

    code: str | None
    message: str | None
    request_id: str | None


def text(value: object) -> str | None:
    """A JSON value as text; None for null and the empty string."""
    return None if value is None or value == "" else str(value)


def error_fields(body: object) -> ErrorFields:
    """(code, message, request_id) from any dialect's error body.

    `{"error": {"code", "message"}}` (native, kik, nebula, openai, whose `type` stands in for a
    missing code) or `{"code", "message", "request_id"}` (DashScope).
    """
    if not isinstance(body, Mapping):
        return ErrorFields(None, None, None)
    request_id = text(body.get("request_id"))
    error = body.get("error")
    if isinstance(error, Mapping):
        return ErrorFields(
            text(error.get("code") or error.get("type")), text(error.get("message")), None
        )
    if isinstance(error, str):
        return ErrorFields(None, error, request_id)
    return ErrorFields(text(body.get("code")), text(body.get("message")), request_id)


class Outbound(ABC):
    """How a client speaks one dialect. Paths are relative to a base URL written as that API's
    own clients write it, less `base_path` (see there)."""

    name: str
    status: StatusWords
    base_path = ""
    """The start of this dialect's paths that its own SDKs put in their base URL (OpenAI's
    `/v1`): a server configured with such a base URL takes the paths without it."""

    @abstractmethod
    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        """The call that creates the task; `shape`, when given, is the geometry and length
        already resolved (and reserved), spelled in this dialect's own fields."""

    @abstractmethod
    def submitted_id(self, data: object) -> str | None:
        """The new task's id in a create answer, or None when it names none."""

    def created(self, data: object, request: VideoRequest) -> Task:
        """The task a create answer describes."""
        return self.parse(data)

    @abstractmethod
    def retrieve(self, task_id: str) -> Call: ...

    @abstractmethod
    def parse(self, data: object) -> Task:
        """A task JSON of this dialect; unknown statuses read as processing, never terminal."""

    def cancel(self, task_id: str) -> Call | None:
        """The cancel call, or None when the dialect has no way to cancel."""
        return None

    def delete(self, task_id: str) -> Call | None:
        """The call that removes the task from the server, or None when there is none."""
        return None

    def content(self, task_id: str) -> Call | None:
        """The download call of a result that has no URL of its own, or None."""
        return None

    def list(
        self, *, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> Call | None:
        """One page of the caller's tasks, or None when the dialect cannot list them."""
        return None

    def page(self, data: Any, status: Status | None) -> TaskPage:
        """A list answer as tasks, and where the next page starts."""
        raise NotImplementedError(f"The {self.name} dialect has no task listing.")

    def error(self, body: object) -> ErrorFields:
        return error_fields(body)

    def word(self, task: Task) -> str:
        """The task's status in this dialect's words."""
        return task.raw_status or self.status.wire(task.status)
