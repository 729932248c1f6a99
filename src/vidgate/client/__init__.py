"""The Python SDK: `Client` and `AsyncClient` for a gateway, DashScope, or a relay."""

from vidgate.client.async_client import AsyncClient
from vidgate.client.base import Generation
from vidgate.client.config import PROVIDERS, Target, client_environ, resolve_target
from vidgate.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    IncompleteDownloadError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TaskCancelled,
    TaskFailed,
    TaskNotCompleted,
    UnsupportedOperation,
    URLExpiredError,
    WaitTimeout,
)
from vidgate.client.sync_client import Client
from vidgate.dialects.outbound import TaskPage
from vidgate.retry import PollPolicy, RetryPolicy, is_testing, set_testing, without_backoff

__all__ = [
    "PROVIDERS",
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
    "NotFoundError",
    "PermissionDeniedError",
    "PollPolicy",
    "RateLimitError",
    "RetryPolicy",
    "Target",
    "TaskCancelled",
    "TaskFailed",
    "TaskNotCompleted",
    "TaskPage",
    "URLExpiredError",
    "UnsupportedOperation",
    "WaitTimeout",
    "client_environ",
    "is_testing",
    "resolve_target",
    "set_testing",
    "without_backoff",
]
