"""The SDK's errors: a connection branch, a status branch, and how a task or a wait ended."""

from __future__ import annotations

from vidgate.dialects.outbound import error_fields
from vidgate.errors import VidgateError
from vidgate.models import Task

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GoneError",
    "IncompleteDownloadError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "TaskCancelled",
    "TaskFailed",
    "TaskNotCompleted",
    "URLExpiredError",
    "UnsupportedOperation",
    "WaitTimeout",
    "error_fields",
    "status_error",
]


class APIConnectionError(VidgateError):
    """The server could not be reached, or the connection broke before a full answer."""


class APITimeoutError(APIConnectionError):
    """The server did not answer in time."""


class IncompleteDownloadError(APIConnectionError):
    """A download ended with fewer (or more) bytes than the server announced."""


class APIStatusError(VidgateError):
    """The server answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        body: object = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body = body
        detail = f"{status_code} {code}: {message}" if code else f"{status_code}: {message}"
        super().__init__(f"{detail} (request_id {request_id})" if request_id else detail)


class BadRequestError(APIStatusError):
    """400: the request is invalid."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this (or a signed URL does not match)."""


class NotFoundError(APIStatusError):
    """404: no such task for this key."""


class ConflictError(APIStatusError):
    """409: the task cannot be cancelled now, or an idempotency key was reused."""


class GoneError(APIStatusError):
    """410: the resource existed but is gone."""


class URLExpiredError(GoneError):
    """410 on a download: the result URL has expired; `get` the task again for a fresh one."""


class RateLimitError(APIStatusError):
    """429: too many requests (retried first, honouring Retry-After)."""


class InternalServerError(APIStatusError):
    """5xx: the server failed (retried first)."""


class UnsupportedOperation(VidgateError):
    """The dialect the client speaks has no such operation (e.g. cancel on nebula)."""


class TaskNotCompleted(VidgateError):
    """A waited-for task ended without a video; `task` holds its final state."""

    def __init__(self, task: Task) -> None:
        self.task = task
        error = task.error
        reason = f"{error.message} ({error.code})" if error else "no reason given"
        word = task.raw_status or task.status.value
        super().__init__(f"Task {task.task_id} {word}: {reason}")


class TaskFailed(TaskNotCompleted):
    """The task failed."""


class TaskCancelled(TaskNotCompleted):
    """The task was cancelled."""


class WaitTimeout(VidgateError):
    """The wait's deadline passed; the task may still be running (`task_id` resumes it)."""

    def __init__(self, task_id: str, task: Task | None, *, elapsed: float, polls: int) -> None:
        self.task_id = task_id
        self.task = task
        self.elapsed = elapsed
        self.polls = polls
        status = (task.raw_status or task.status.value) if task is not None else "unknown"
        super().__init__(
            f"Task {task_id} timed out after {elapsed:.0f}s ({polls} polls, last status: {status})"
        )


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    429: RateLimitError,
}


def status_error(
    status_code: int,
    body: object,
    *,
    request_id: str | None = None,
    text: str = "",
) -> APIStatusError:
    """The error for an error status, with the code and message the body carries."""
    code, message, body_request_id = error_fields(body)
    kind = STATUS_ERRORS.get(status_code)
    if kind is None:
        kind = InternalServerError if status_code >= 500 else APIStatusError
    return kind(
        message or text.strip()[:200] or f"HTTP {status_code}",
        status_code=status_code,
        code=code,
        request_id=request_id or body_request_id,
        body=body,
    )
