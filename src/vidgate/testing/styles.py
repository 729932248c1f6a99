"""Every fake's error style by dialect: those of `errors`, plus Kling's, MiniMax's and Veo's."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from vidgate.dialects import kling_outbound, minimax_outbound
from vidgate.testing.errors import STYLES as BASE_STYLES
from vidgate.testing.errors import ErrorStyle

__all__ = ["GOOGLE_STATUS", "KLING", "MINIMAX", "STYLES", "VEO"]


def _number(code: str) -> int | str:
    return int(code) if code.isdigit() else code


def _kling(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return {"code": _number(code), "message": message, "request_id": str(uuid.uuid4())}


def _minimax(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return {"base_resp": {"status_code": _number(code), "status_msg": message}}


GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
"""Google's canonical status word for each HTTP status."""


def _google(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": code if code.isupper() else GOOGLE_STATUS.get(status, "UNKNOWN"),
    }
    if code == "API_KEY_INVALID" and status == 403:
        error["status"] = "PERMISSION_DENIED"
    elif code == "API_KEY_INVALID":
        error["status"] = "INVALID_ARGUMENT"
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ]
    return {"error": error}


KLING = ErrorStyle(
    render=_kling,
    unauthorized=("1000", "Authorization is empty", "Authentication failed"),
    throttled=("1302", kling_outbound.ERRORS[1302][2]),
    server_error=("5000", kling_outbound.ERRORS[5000][2]),
    not_found=("1203", kling_outbound.ERRORS[1203][2]),
    submit_errors={
        str(code): (status, text) for code, (status, _, text) in kling_outbound.ERRORS.items()
    },
    task_errors={"task_failed": "Failure to pass the risk control system"},
    task_failure=("task_failed", "Video generation failed"),
    translate={"invalid_request": (400, "1201"), "model_not_found": (400, "1201")},
)
MINIMAX = ErrorStyle(
    render=_minimax,
    unauthorized=("1004", "login fail: Please carry the API secret key", "invalid api key"),
    throttled=("1002", minimax_outbound.ERRORS[1002][1]),
    server_error=("1013", minimax_outbound.ERRORS[1013][1]),
    not_found=("2013", "invalid params, task not found"),
    submit_errors={str(code): (200, text) for code, (_, text) in minimax_outbound.ERRORS.items()},
    task_errors={
        "1026": minimax_outbound.ERRORS[1026][1],
        "1027": minimax_outbound.ERRORS[1027][1],
    },
    task_failure=("1000", "unknown error"),
    translate={"invalid_request": (200, "2013"), "model_not_found": (200, "2013")},
    errors_ok=True,
)
VEO = ErrorStyle(
    render=_google,
    unauthorized=(
        "API_KEY_INVALID",
        "Method doesn't allow unregistered callers. Please use API Key or other form of API"
        " consumer identity to call this API.",
        "API key not valid. Please pass a valid API key.",
    ),
    throttled=("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    server_error=("INTERNAL", "An internal error has occurred."),
    not_found=("NOT_FOUND", "Requested entity was not found."),
    submit_errors={
        "INVALID_ARGUMENT": (400, "Request contains an invalid argument."),
        "PERMISSION_DENIED": (403, "The caller does not have permission."),
        "RESOURCE_EXHAUSTED": (429, "Resource has been exhausted (e.g. check quota)."),
        "INTERNAL": (500, "An internal error has occurred."),
        "UNAVAILABLE": (503, "The model is overloaded. Please try again later."),
    },
    task_errors={
        "RAI_MEDIA_FILTERED": "The video was filtered by the safety filters.",
        "INTERNAL": "An internal error has occurred.",
    },
    task_failure=("INTERNAL", "An internal error has occurred."),
    translate={"invalid_request": (400, "INVALID_ARGUMENT"), "model_not_found": (404, "NOT_FOUND")},
    unauthorized_status=(403, 400),
)
STYLES: Mapping[str, ErrorStyle] = {**BASE_STYLES, "kling": KLING, "minimax": MINIMAX, "veo": VEO}
