"""The calling side of MiniMax's video API (Hailuo): `video_generation`, its query, and the file
retrieval that turns a finished task's `file_id` into a download URL.

MiniMax answers most errors with HTTP 200 and a `base_resp` whose `status_code` is not 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.dialects.outbound import Call, ErrorFields, ErrorKind, Outbound, text
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, Result, Status, Task, TaskError, VideoRequest, detect_mode

__all__ = [
    "CREATE_PATH",
    "ERRORS",
    "FILES_PATH",
    "OUTBOUND",
    "QUERY_PATH",
    "STATUS",
    "MiniMaxOutbound",
]

CREATE_PATH = "/v1/video_generation"
QUERY_PATH = "/v1/query/video_generation"
FILES_PATH = "/v1/files/retrieve"
STATUS = StatusWords(
    {
        Status.QUEUED: "Queueing",
        Status.PROCESSING: "Processing",
        Status.COMPLETED: "Success",
        Status.FAILED: "Fail",
    },
    extra={"Preparing": Status.QUEUED},
)
ERRORS: Mapping[int, tuple[ErrorKind, str]] = {
    1000: ("transient", "unknown error"),
    1001: ("transient", "request timeout"),
    1002: ("throttled", "rate limit exceeded"),
    1004: ("refused", "authentication failed"),
    1008: ("refused", "insufficient balance"),
    1013: ("transient", "internal service error"),
    1026: ("invalid", "input new_sensitive"),
    1027: ("invalid", "output video new_sensitive"),
    1039: ("throttled", "token limit exceeded"),
    2013: ("invalid", "invalid params"),
    2049: ("refused", "invalid api key"),
}
"""MiniMax's `base_resp.status_code`s: how vidgate treats each, and MiniMax's message."""


def base_error(data: object) -> ErrorFields | None:
    """The error a `base_resp` reports, or None when it says success (status code 0)."""
    base = data.get("base_resp") if isinstance(data, dict) else None
    if not isinstance(base, dict):
        return None
    code = base.get("status_code")
    if code in (0, None, "0"):
        return None
    return ErrorFields(text(code), text(base.get("status_msg")), None)


class MiniMaxOutbound(Outbound):
    """MiniMax: text-to-video, or image-to-video from `first_frame_image`; `resolution` and
    `duration` as given. MiniMax has no cancel. Its `callback_url` is first sent a
    `{"challenge": …}` to echo, then the query answer, unsigned, at each status change."""

    name = "minimax"
    status = STATUS
    callback_field = "callback_url"

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        mode = detect_mode(request)
        body: dict[str, Any] = {
            "model": request.model or "MiniMax-Hailuo-02",
            "prompt": request.prompt,
            "duration": shape.duration if shape else (request.duration or 6),
            "resolution": shape.resolution if shape else (request.resolution or "768P"),
        }
        image = request.first_frame_url or request.img_url
        if mode in (Mode.I2V, Mode.KF2V) and image:
            body["first_frame_image"] = image
            if request.last_frame_url:
                body["last_frame_image"] = request.last_frame_url
        elif mode is not Mode.T2V:
            raise InvalidRequest(f"MiniMax has no {mode.value} mode.", param="mode")
        if request.callback_url:
            body["callback_url"] = request.callback_url
        return Call("POST", CREATE_PATH, body)

    def submitted_id(self, data: object) -> str | None:
        return text(data.get("task_id")) if isinstance(data, dict) else None

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", QUERY_PATH, params={"task_id": task_id})

    def parse(self, data: object) -> Task:
        body: dict[str, Any] = data if isinstance(data, dict) else {}
        word = body.get("status")
        status = STATUS.canonical(word) or Status.PROCESSING
        error = None
        if status is Status.COMPLETED and not text(body.get("file_id")):
            status = Status.PROCESSING
        if status is Status.FAILED:
            code, message, _ = base_error(body) or ErrorFields(None, None, None)
            error = TaskError(
                code=code or "task_failed", message=message or "The MiniMax task failed."
            )
        width, height = body.get("video_width"), body.get("video_height")
        result = None
        if status is Status.COMPLETED:
            result = Result(
                video_url="",
                width=width if isinstance(width, int) and width > 0 else None,
                height=height if isinstance(height, int) and height > 0 else None,
            )
        return Task(
            task_id=str(body.get("task_id") or ""),
            status=status,
            progress=100 if status is Status.COMPLETED else 0,
            result=result,
            error=error,
            raw_status=word if isinstance(word, str) else None,
        )

    def answer_error(self, data: object) -> ErrorFields | None:
        """A failed task's query answer carries its failure in `base_resp`: that is the task's
        error, not the call's."""
        if isinstance(data, dict) and data.get("status") == STATUS.wire(Status.FAILED):
            return None
        return base_error(data)

    def error(self, body: object) -> ErrorFields:
        return base_error(body) or super().error(body)

    def error_kind(self, status: int, code: str) -> ErrorKind | None:
        known = ERRORS.get(int(code)) if code.isdigit() else None
        return known[0] if known else None

    def result_call(self, data: object) -> Call | None:
        file_id = text(data.get("file_id")) if isinstance(data, dict) else None
        return Call("GET", FILES_PATH, params={"file_id": file_id}) if file_id else None

    def result_location(self, data: object) -> str | None:
        found = data.get("file") if isinstance(data, dict) else None
        return text(found.get("download_url")) if isinstance(found, dict) else None


OUTBOUND = MiniMaxOutbound()
