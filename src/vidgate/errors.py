"""Errors raised by vidgate's service layer, each mapped to one HTTP status."""

from __future__ import annotations

import math
import re

__all__ = [
    "ApiError",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "QuotaExceeded",
    "RateLimited",
    "Unauthorized",
    "VidgateError",
    "public_message",
]


class VidgateError(Exception):
    """The root of every error vidgate raises."""


class ApiError(VidgateError):
    """An error that an API client should see, with a stable code and the field at fault."""

    status_code = 400
    code = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers: dict[str, str] = {}
        """Response headers the error asks for, such as `Retry-After`."""
        if code is not None:
            self.code = code


class InvalidRequest(ApiError):
    status_code = 400
    code = "invalid_request"


class Unauthorized(ApiError):
    status_code = 401
    code = "invalid_api_key"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class QuotaExceeded(ApiError):
    status_code = 402
    code = "insufficient_quota"


class RateLimited(ApiError):
    """Too many requests for now; `Retry-After` says when the next one may succeed."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


_SQL = re.compile(r"\s*(\[SQL:|\[parameters:|\(Background on this error at:).*", re.DOTALL)
_SQL_STATEMENT = re.compile(
    r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b.*\b(FROM|SET|VALUES|WHERE)\b.*", re.DOTALL
)
_PATH = re.compile(r"(?<![\w:/.~-])(?:~|\.{1,2})?(?:/[\w.@%+=,~-]+){2,}/?")
_WORKER = re.compile(r"\bworker-[0-9a-f]{6,}\b")


def public_message(text: str) -> str:
    """``text`` fit to show a client: no server file path, SQL or internal worker id.

    Messages made from exceptions (a renderer's, a driver's) may quote all three; they stay
    in the log, and the client reads what went wrong without them.
    """
    text = _SQL.sub("", text)
    text = _SQL_STATEMENT.sub("(a database statement)", text)
    text = _PATH.sub("(a server file)", text)
    return _WORKER.sub("a worker", text).strip()
