"""The calling side of a dialect: the requests a client sends in it and how it reads answers.

The SDK and the upstream providers both speak to servers through these objects, one per dialect
(`native.OUTBOUND`, `dashscope.OUTBOUND`, …). They do no I/O: they build `Call`s, and turn
answers, pages and error bodies into canonical values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.models import Status, Task, VideoRequest

__all__ = [
    "Call",
    "ErrorFields",
    "ErrorKind",
    "Outbound",
    "RunningPage",
    "TaskPage",
    "error_fields",
    "text",
]

ErrorKind = Literal["throttled", "transient", "refused", "invalid"]
"""How an upstream error is handled: throttled and transient calls are retried (a submit fails
over), refused ones fail over to the next credential or provider, invalid ones fail the task."""


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


@dataclass
class RunningPage:
    """One page of a listing of unfinished tasks: their ids, and where the next page starts
    (None on the last)."""

    ids: list[str]
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
    running_statuses: tuple[Status, ...] = ()
    """The unfinished statuses that `list` can filter on, in the order a task passes through
    them: together they list every task still running there, so that one sweep of the listing
    stands in for polling each task. Empty when the listing cannot say that."""
    list_limit = 100
    """The largest page `list` asks for."""

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

    def running_page(self, data: Any, status: Status) -> RunningPage:
        """A page of the listing by one of `running_statuses`, as the ids of the tasks on it
        that are still unfinished."""
        page = self.page(data, status)
        ids = [task.task_id for task in page.data if not task.status.terminal]
        return RunningPage(ids, page.next_after if page.has_more else None)

    def error(self, body: object) -> ErrorFields:
        return error_fields(body)

    def answer_error(self, data: object) -> ErrorFields | None:
        """The error that a successful HTTP answer carries in its body, or None when it carries
        none (MiniMax answers its errors with HTTP 200 and a `base_resp`)."""
        return None

    def error_kind(self, status: int, code: str) -> ErrorKind | None:
        """This API's own reading of an error code; None leaves it to the HTTP status."""
        return None

    def auth_headers(self, key: str) -> dict[str, str]:
        """The headers that authenticate one call with this credential, made afresh for each
        call (Kling mints a short-lived token from its key pair)."""
        return {"Authorization": f"Bearer {key}"}

    def accepted_id(self, data: object, call: Call) -> str | None:
        """The id to poll a task by, from the create `call` and its answer; APIs whose status
        path depends on the create path fold that into the id."""
        return self.submitted_id(data)

    def result_call(self, data: object) -> Call | None:
        """A further call that yields a completed task's result URL, or None when the task
        answer `data` has it (MiniMax's answer names a file, retrieved separately)."""
        return None

    def result_location(self, data: object) -> str | None:
        """The result URL in the answer of `result_call`."""
        return None

    inline_inputs: tuple[str, ...] = ()
    """Request fields whose URLs this API does not fetch: they are sent as `data:` URLs."""
    callback_field: str | None = None
    """Where this API takes a URL to call when a task ends (`create` sends the request's
    `callback_url` there), or None when it cannot call back."""

    def word(self, task: Task) -> str:
        """The task's status in this dialect's words."""
        return task.raw_status or self.status.wire(task.status)
