"""vidgate: a gateway, SDK and CLI for asynchronous video-generation tasks."""

import importlib
import typing

if typing.TYPE_CHECKING:
    from vidgate.client import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AsyncClient,
        AuthenticationError,
        BadRequestError,
        Client,
        ConflictError,
        Generation,
        GoneError,
        IncompleteDownloadError,
        InternalServerError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        TaskCancelled,
        TaskFailed,
        TaskNotCompleted,
        TaskPage,
        UnsupportedOperation,
        URLExpiredError,
        WaitTimeout,
        set_testing,
    )
    from vidgate.errors import VidgateError
    from vidgate.models import Mode, Result, Status, Task, TaskError, Usage, VideoRequest

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "Generation",
    "GoneError",
    "IncompleteDownloadError",
    "InternalServerError",
    "Mode",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Result",
    "Status",
    "Task",
    "TaskCancelled",
    "TaskError",
    "TaskFailed",
    "TaskNotCompleted",
    "TaskPage",
    "URLExpiredError",
    "UnsupportedOperation",
    "Usage",
    "VideoRequest",
    "VidgateError",
    "WaitTimeout",
    "__version__",
    "set_testing",
]

__version__ = "0.1.0"

_CORE = {"VidgateError": "vidgate.errors"} | dict.fromkeys(
    ("Mode", "Result", "Status", "Task", "TaskError", "Usage", "VideoRequest"), "vidgate.models"
)
_LAZY = dict.fromkeys(frozenset(__all__) - {"__version__"}, "vidgate.client") | _CORE
"""Where each public name lives; imported on first use, so that `import vidgate` is cheap (the
`vidgate` command starts before it loads pydantic) and a gateway process never loads the SDK."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY.keys())
