"""vidgate: a gateway, SDK and CLI for asynchronous video-generation tasks."""

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

_SDK = frozenset(__all__) - globals().keys()
"""The SDK's names, imported on first use: a gateway process never loads the client."""


def __getattr__(name: str) -> object:
    if name in _SDK:
        from vidgate import client

        value = getattr(client, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SDK)
