"""Errors raised by vidgate's service layer, each mapped to one HTTP status."""

from __future__ import annotations

__all__ = [
    "ApiError",
    "Conflict",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "QuotaExceeded",
    "Unauthorized",
    "VidgateError",
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
        if code is not None:
            self.code = code


class InvalidRequest(ApiError):
    status_code = 400
    code = "invalid_request"


class Unauthorized(ApiError):
    status_code = 401
    code = "invalid_api_key"


class QuotaExceeded(ApiError):
    status_code = 402
    code = "insufficient_quota"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"
