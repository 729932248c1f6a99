"""How each fake answers errors, and the error codes each API documents."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

from vidgate.dialects import dashscope, kik, native, nebula, openai
from vidgate.errors import ApiError
from vidgate.models import TaskError
from vidgate.testing.faults import SubmitFailure, TaskFailure

__all__ = ["STYLES", "ErrorStyle", "retry_after_header"]

Render = Callable[[int, str, str, str | None], dict[str, Any]]


def retry_after_header(seconds: float) -> str:
    """`Retry-After` in seconds: whole numbers as integers, fractions as given (for fast tests)."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


@dataclass(frozen=True)
class ErrorStyle:
    """One dialect's error body, its stock codes, and the codes its documentation lists."""

    render: Render
    unauthorized: tuple[str, str, str]
    """Code, message for a missing key, message for a wrong key."""
    throttled: tuple[str, str]
    server_error: tuple[str, str]
    not_found: tuple[str, str]
    submit_errors: Mapping[str, tuple[int, str]]
    """Documented submit errors: code → (HTTP status, message)."""
    task_errors: Mapping[str, str]
    """Documented task failure codes → message."""
    task_failure: tuple[str, str]
    """The failure a task reports when none is named."""
    translate: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    """vidgate error codes → this dialect's (status, code), for invalid requests."""
    errors_ok: bool = False
    unauthorized_status: tuple[int, int] = (401, 401)
    """The HTTP status of a missing key and of a wrong one."""
    """Answer every error with HTTP 200, the error only in the body (MiniMax)."""

    def response(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        return JSONResponse(
            self.render(status, code, message, param),
            status_code=200 if self.errors_ok else status,
            headers=headers,
        )

    def api_error(self, exc: ApiError) -> JSONResponse:
        """A request the dialect's parser refused, in this dialect's words."""
        status, code = self.translate.get(exc.code, (exc.status_code, exc.code))
        return self.response(status, code, exc.message, param=exc.param)

    def submit_error(self, failure: SubmitFailure, retry_after: float) -> JSONResponse:
        known_status, known_message = self.submit_errors.get(failure.code, (400, failure.code))
        status = failure.status or known_status
        headers = {}
        if status == 429 or failure.retry_after is not None:
            seconds = failure.retry_after if failure.retry_after is not None else retry_after
            headers["Retry-After"] = retry_after_header(seconds)
        return self.response(
            status, failure.code, failure.message or known_message, headers=headers
        )

    def task_error(self, failure: TaskFailure) -> TaskError:
        if failure.code is None:
            code, default = self.task_failure
        else:
            code = failure.code
            default = self.task_errors.get(code, f"The task failed: {code}.")
        return TaskError(code=code, message=failure.message or default)


def _dashscope(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": str(uuid.uuid4())}


def _openai(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return openai.render_error(status, code, message, param)


def _native(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return native.render_error(code, message, param)


def _kik(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return kik.render_error(code, message)


def _nebula(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return nebula.render_error(code, message)


DASHSCOPE_INTERNAL = (
    "An internal error has occured, please try again later or contact service support."
)
DASHSCOPE = ErrorStyle(
    render=_dashscope,
    unauthorized=("InvalidApiKey", "No API-key provided.", "Invalid API-key provided."),
    throttled=("Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    server_error=("InternalServerError", DASHSCOPE_INTERNAL),
    not_found=("NotFound", "The resource does not exist."),
    submit_errors={
        "InvalidParameter": (400, "The request parameters are invalid."),
        "DataInspectionFailed": (400, "Input data may contain inappropriate content."),
        "IPInfringementSuspect": (
            400,
            "Input data is suspected of being involved in IP infringement.",
        ),
        "UnsupportedOperation": (400, "The operation is not supported."),
        "InvalidApiKey": (401, "Invalid API-key provided."),
        "AccessDenied": (403, "current user api does not support synchronous calls"),
        "Arrearage": (403, "Access denied, please make sure your account is in good standing."),
        "ModelNotFound": (404, "Model not exist."),
        "Throttling.RateQuota": (429, "Requests rate limit exceeded, please try again later."),
        "Throttling.AllocationQuota": (
            429,
            "Allocated quota exceeded, please increase your quota limit.",
        ),
        "InternalServerError": (500, DASHSCOPE_INTERNAL),
    },
    task_errors={
        "InvalidParameter": "The request parameters are invalid.",
        "DataInspectionFailed": "Output data may contain inappropriate content.",
        "IPInfringementSuspect": "Input data is suspected of being involved in IP infringement.",
        "InternalServerError": DASHSCOPE_INTERNAL,
    },
    task_failure=("InternalServerError", DASHSCOPE_INTERNAL),
    translate=dashscope.ERROR_CODES,
)
OPENAI_SERVER = "The server had an error while processing your request. Sorry about that!"
OPENAI = ErrorStyle(
    render=_openai,
    unauthorized=(
        "invalid_api_key",
        "You didn't provide an API key. Provide it in an Authorization header (Bearer KEY).",
        "Incorrect API key provided.",
    ),
    throttled=("rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    server_error=("server_error", OPENAI_SERVER),
    not_found=("not_found", "No video found with that id."),
    submit_errors={
        "invalid_value": (400, "Invalid value."),
        "moderation_blocked": (400, "Your request was blocked by our moderation system."),
        "invalid_api_key": (401, "Incorrect API key provided."),
        "insufficient_quota": (
            429,
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        "rate_limit_exceeded": (429, "Rate limit reached for requests. Please try again later."),
        "server_error": (500, OPENAI_SERVER),
    },
    task_errors={
        "video_generation_failed": "Video generation failed.",
        "moderation_blocked": "Your request was blocked by our moderation system.",
        "internal_error": OPENAI_SERVER,
    },
    task_failure=("video_generation_failed", "Video generation failed."),
)
RELAY_SUBMIT_ERRORS: Mapping[str, tuple[int, str]] = {
    "invalid_request": (400, "The request is invalid."),
    "model_not_found": (400, "The model does not exist."),
    "invalid_api_key": (401, "The API key is missing or invalid."),
    "insufficient_quota": (402, "The key's quota is used up."),
    "rate_limited": (429, "Too many requests; retry later."),
    "internal_error": (500, "The upstream hit an unexpected error."),
}
RELAY_UNAUTHORIZED = (
    "invalid_api_key",
    "No API key provided; send Authorization: Bearer KEY.",
    "The API key is invalid.",
)
RELAY_THROTTLED = ("rate_limited", "Too many requests; retry later.")
RELAY_SERVER_ERROR = ("internal_error", "The upstream hit an unexpected error.")
NATIVE = ErrorStyle(
    render=_native,
    unauthorized=RELAY_UNAUTHORIZED,
    throttled=RELAY_THROTTLED,
    server_error=RELAY_SERVER_ERROR,
    not_found=("not_found", "No such task."),
    submit_errors=RELAY_SUBMIT_ERRORS,
    task_errors={
        "upstream_failed": "The upstream failed the task.",
        "render_failed": "The renderer failed.",
        "deadline_exceeded": "The task did not finish in time.",
    },
    task_failure=("upstream_failed", "The upstream failed the task."),
)
KIK = ErrorStyle(
    render=_kik,
    unauthorized=RELAY_UNAUTHORIZED,
    throttled=RELAY_THROTTLED,
    server_error=RELAY_SERVER_ERROR,
    not_found=("task_not_found", "task not found"),
    submit_errors=RELAY_SUBMIT_ERRORS,
    task_errors={"upstream_task_failed": "upstream video generation task failed"},
    task_failure=("upstream_task_failed", "upstream video generation task failed"),
)
NEBULA = ErrorStyle(
    render=_nebula,
    unauthorized=RELAY_UNAUTHORIZED,
    throttled=RELAY_THROTTLED,
    server_error=RELAY_SERVER_ERROR,
    not_found=("task_not_found", "task not found"),
    submit_errors=RELAY_SUBMIT_ERRORS,
    task_errors={
        "400": "Prompt contains inappropriate content",
        "500": "Video generation failed",
    },
    task_failure=("400", "Prompt contains inappropriate content"),
)


def _message_only(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return {"error": message, "code": code}


def _detail(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return {"detail": message}


def _problem(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    return {"title": code, "detail": message, "status": status}


HOSTED_UNAUTHORIZED = ("unauthorized", "Missing authentication.", "Invalid API key.")
RUNWAY = ErrorStyle(
    render=_message_only,
    unauthorized=HOSTED_UNAUTHORIZED,
    throttled=("TOO_MANY_REQUESTS", "You have exceeded the rate limit."),
    server_error=("INTERNAL", "An unexpected error occurred."),
    not_found=("NOT_FOUND", "Task not found."),
    submit_errors={
        "INVALID_ARGUMENT": (400, "Invalid request."),
        "SAFETY.INPUT.TEXT": (400, "The prompt did not pass content moderation."),
        "INSUFFICIENT_CREDITS": (400, "You do not have enough credits to run this task."),
        "TOO_MANY_REQUESTS": (429, "You have exceeded the rate limit."),
        "INTERNAL": (500, "An unexpected error occurred."),
    },
    task_errors={
        "SAFETY.INPUT.TEXT": "The prompt did not pass content moderation.",
        "SAFETY.OUTPUT.VIDEO": "The output did not pass content moderation.",
        "INTERNAL.BAD_OUTPUT.CODE01": "An unexpected error occurred.",
    },
    task_failure=("INTERNAL.BAD_OUTPUT.CODE01", "An unexpected error occurred."),
)
LUMA = ErrorStyle(
    render=_detail,
    unauthorized=HOSTED_UNAUTHORIZED,
    throttled=("rate_limited", "Too many requests"),
    server_error=("internal_error", "Internal server error"),
    not_found=("not_found", "Generation not found"),
    submit_errors={
        "content_moderation": (400, "Prompt failed moderation"),
        "insufficient_credits": (402, "Insufficient credits"),
        "rate_limited": (429, "Too many concurrent generations"),
    },
    task_errors={
        "content_moderation": "Prompt failed content moderation",
        "generation_failed": "Generation failed",
    },
    task_failure=("generation_failed", "Generation failed"),
)
FAL = ErrorStyle(
    render=_detail,
    unauthorized=HOSTED_UNAUTHORIZED,
    throttled=("rate_limited", "Too many requests"),
    server_error=("internal_error", "Internal Server Error"),
    not_found=("not_found", "Request not found"),
    submit_errors={
        "content_policy_violation": (422, "The content could not be processed."),
        "insufficient_balance": (403, "User is locked. Reason: Exhausted balance."),
        "rate_limited": (429, "Too many requests"),
    },
    task_errors={
        "content_policy_violation": "The content could not be processed.",
        "internal_error": "Internal Server Error",
    },
    task_failure=("internal_error", "Internal Server Error"),
)
REPLICATE = ErrorStyle(
    render=_problem,
    unauthorized=(
        "Unauthenticated",
        "You did not pass an authentication token",
        "You did not pass a valid authentication token",
    ),
    throttled=("Request was throttled", "Request was throttled. Expected available in 1 second."),
    server_error=("Internal server error", "An unexpected error occurred."),
    not_found=("Not found", "The requested resource could not be found."),
    submit_errors={
        "Invalid input": (422, "Invalid input."),
        "Insufficient credit": (402, "You have insufficient credit to run this model."),
        "Request was throttled": (429, "Request was throttled."),
    },
    task_errors={
        "content_flagged": "The input or output was flagged as sensitive (E005).",
        "prediction_failed": "Prediction failed.",
    },
    task_failure=("prediction_failed", "Prediction failed."),
)
STYLES: Mapping[str, ErrorStyle] = {
    "dashscope": DASHSCOPE,
    "openai": OPENAI,
    "native": NATIVE,
    "kik": KIK,
    "nebula": NEBULA,
    "runway": RUNWAY,
    "luma": LUMA,
    "fal": FAL,
    "replicate": REPLICATE,
}
