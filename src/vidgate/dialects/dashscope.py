"""DashScope's video-synthesis dialect (seeds 000 and 001)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from vidgate.catalog import MODELS, Shape
from vidgate.dialects.common import (
    PUSH_FIELDS,
    StatusWords,
    parse_time,
    push_fields,
    require_object,
    validation_error,
)
from vidgate.dialects.dashscope_media import media_for, passed_media, read_media
from vidgate.dialects.dashscope_usage import read_usage, render_usage
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, Result, Status, Task, TaskError, VideoRequest, detect_mode

__all__ = [
    "ERROR_CODES",
    "I2V_PATH",
    "SDK_FUNCTION",
    "STATUS",
    "SYNTHESIS_PATH",
    "build_create",
    "create_path",
    "format_time",
    "parse_create",
    "parse_task",
    "read_time",
    "render_created",
    "render_error",
    "render_task",
    "render_unknown",
    "shaped",
    "task_path",
]

SYNTHESIS_PATH = "/services/aigc/video-generation/video-synthesis"
I2V_PATH = "/services/aigc/image2video/video-synthesis"
STATUS = StatusWords(
    {
        Status.QUEUED: "PENDING",
        Status.PROCESSING: "RUNNING",
        Status.COMPLETED: "SUCCEEDED",
        Status.FAILED: "FAILED",
        Status.CANCELLED: "CANCELED",
    }
)
"""UNKNOWN and SUSPENDED are deliberately absent: they are not terminal."""

INPUT_FIELDS = {
    "prompt",
    "negative_prompt",
    "img_url",
    "first_frame_url",
    "last_frame_url",
    "reference_urls",
    "function",
    "video_url",
    "ref_images_url",
    "mask_image_url",
    "mask_video_url",
}
BEIJING = timezone(timedelta(hours=8), "CST")
"""China Standard Time, which DashScope writes its task times in (no daylight saving)."""
INPUT_EXTRAS = {
    "audio_url",
    "media",
    "template",
    "first_clip_url",
    "last_clip_url",
    "extend_prompt",
    "reference_url",
    "reference_video_description",
}
INPUT_ALIASES = {
    "head_frame": "first_frame_url",
    "tail_frame": "last_frame_url",
    "reference_video_urls": "reference_urls",
}
"""Older input names the SDK still sends, read as their current field."""
SDK_FUNCTION = "video-synthesis"
"""The `function` the dashscope SDK puts in every input: its endpoint's name, not a vace one."""
PARAMETER_FIELDS = {"size", "resolution", "ratio", "duration", "seed", "fps"}
PARAMETER_EXTRAS = {
    "prompt_extend",
    "audio_setting",
    "enable_thinking",
    "watermark",
    "shot_type",
    "audio",
    "obj_or_bg",
    "control_condition",
    "strength",
    "mask_type",
    "mask_frame_id",
    "expand_ratio",
    "top_scale",
    "bottom_scale",
    "left_scale",
    "right_scale",
}
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "InvalidParameter"),
    "model_not_found": (404, "ModelNotFound"),
    "input_unreachable": (400, "InvalidParameter"),
    "input_too_large": (400, "InvalidParameter"),
    "invalid_api_key": (401, "InvalidApiKey"),
    "insufficient_quota": (403, "Arrearage"),
    "not_found": (404, "NotFound"),
    "task_not_cancellable": (400, "UnsupportedOperation"),
    "idempotency_key_reused": (409, "Conflict"),
    "conflict": (409, "Conflict"),
    "payload_too_large": (413, "InvalidParameter"),
    "rate_limited": (429, "Throttling.RateQuota"),
}
"""vidgate's error codes as the HTTP status and code DashScope would answer."""
STATUS_CODES = {
    400: "InvalidParameter",
    401: "InvalidApiKey",
    403: "AccessDenied",
    404: "NotFound",
    409: "Conflict",
    413: "InvalidParameter",
    429: "Throttling.RateQuota",
}
"""DashScope's code for an HTTP status, for vidgate codes it has no word for."""
RESOLUTION_MODES = (Mode.I2V, Mode.KF2V)
"""Modes whose Wan models take `resolution` instead of `size`."""


def create_path(request: VideoRequest) -> str:
    """kf2v goes to image2video; every other mode to video-generation."""
    return I2V_PATH if detect_mode(request) is Mode.KF2V else SYNTHESIS_PATH


def task_path(task_id: str) -> str:
    return f"/tasks/{task_id}"


def parse_create(body: object) -> VideoRequest:
    """`{model, input{…}, parameters{…}}` as the canonical request."""
    fields = require_object(body)
    unknown = set(fields) - {"model", "input", "parameters", *PUSH_FIELDS}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidRequest(f"{name}: unknown field.", param=name)
    given_input = require_object(fields.get("input", {}), "input")
    given_parameters = require_object(fields.get("parameters") or {}, "parameters")
    given_input, media = read_media(_current_names(given_input))
    for name, known in (
        ("input", INPUT_FIELDS | INPUT_EXTRAS),
        ("parameters", PARAMETER_FIELDS | PARAMETER_EXTRAS),
    ):
        part = given_input if name == "input" else given_parameters
        for key in part:
            if key not in known:
                raise InvalidRequest(f"{name}.{key}: unknown field.", param=f"{name}.{key}")
    canonical: dict[str, Any] = {k: v for k, v in given_input.items() if k in INPUT_FIELDS}
    canonical.update({k: v for k, v in given_parameters.items() if k in PARAMETER_FIELDS})
    vace = {k: v for k, v in given_parameters.items() if k in PARAMETER_EXTRAS}
    vace.update({k: v for k, v in given_input.items() if k in INPUT_EXTRAS})
    if media:
        vace["media"] = media
    if "model" in fields:
        canonical["model"] = fields["model"]
    canonical.update(push_fields(fields))
    try:
        return VideoRequest.model_validate({**canonical, "vace": vace})
    except ValidationError as exc:
        field = exc.errors()[0]["loc"][0]
        top = ("model", *PUSH_FIELDS)
        prefix = "input." if field in INPUT_FIELDS else "parameters." if field not in top else ""
        raise validation_error(exc, prefix) from None


def _current_names(given_input: dict[str, Any]) -> dict[str, Any]:
    """The input with the SDK's endpoint `function` dropped and older names made current."""
    current = {k: v for k, v in given_input.items() if k not in INPUT_ALIASES}
    if current.get("function") == SDK_FUNCTION:
        del current["function"]
    for old, new in INPUT_ALIASES.items():
        if old not in given_input:
            continue
        value = given_input[old]
        if new == "reference_urls":
            mine = current.get(new) or []
            if not isinstance(mine, list) or not isinstance(value, list):
                raise InvalidRequest(f"input.{old}: must be a list of URLs.", param=f"input.{old}")
            current[new] = mine + value
        elif new not in current:
            current[new] = value
    return current


def build_create(request: VideoRequest, shape: Shape | None = None) -> tuple[str, dict[str, Any]]:
    """The path and body that create this request on DashScope; a resolved `shape` is spelled
    as each Wan model expects it (see `shaped`)."""
    if shape is not None:
        request = shaped(request, shape)
    data = request.model_dump(mode="json", exclude_none=True)
    given_input = {k: v for k, v in data.items() if k in INPUT_FIELDS}
    parameters = {k: v for k, v in data.items() if k in PARAMETER_FIELDS}
    for key, value in request.vace.items():
        (given_input if key in INPUT_EXTRAS else parameters)[key] = value
    given_input.pop("media", None)
    media = media_for(request, given_input) if _takes_media(request.model) else None
    if media is None:
        media = passed_media(request)
    if media:
        given_input["media"] = media
    body: dict[str, Any] = {"input": given_input}
    if request.model:
        body["model"] = request.model
    if parameters:
        body["parameters"] = parameters
    return create_path(request), body


def shaped(request: VideoRequest, shape: Shape) -> VideoRequest:
    """The request with the resolved size and duration as each Wan model takes them.

    i2v and kf2v models take `resolution`; the others take `size` as `W*H`; Wan 2.7 models take
    `resolution` and `ratio`. Models with one fixed duration take none; no other model takes
    `ratio` or `fps` beside a size or resolution.
    """
    spec = MODELS.get(request.model or "")
    fixed = spec is not None and len(spec.durations) == 1
    changes: dict[str, Any] = {
        "ratio": None,
        "fps": None,
        "duration": None if fixed else shape.duration,
    }
    if _takes_media(request.model):
        changes.update(resolution=shape.resolution, ratio=shape.ratio, size=None)
    elif detect_mode(request) in RESOLUTION_MODES:
        changes.update(resolution=shape.resolution, size=None)
    else:
        changes.update(size=f"{shape.width}*{shape.height}", resolution=None)
    return request.model_copy(update=changes)


def _takes_media(model: str | None) -> bool:
    spec = MODELS.get(model or "")
    return spec is not None and spec.protocol == "media"


def format_time(task_time: datetime | None) -> str | None:
    """DashScope's `2025-09-29 14:18:52.331`, in Beijing time, as the service writes it."""
    if task_time is None:
        return None
    moment = task_time.astimezone(BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def read_time(value: object) -> datetime | None:
    """A DashScope task time: Beijing time unless it names its own zone; as UTC."""
    return parse_time(value, BEIJING)


def render_created(task: Task, request_id: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "output": {"task_id": task.task_id, "task_status": STATUS.wire(task.status)},
    }


def render_task(task: Task, request_id: str) -> dict[str, Any]:
    """The task as DashScope's `GET /tasks/{id}` answers (the DashScope task API)."""
    output: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": STATUS.wire(task.status),
        "submit_time": format_time(task.created_at),
    }
    if task.started_at is not None:
        output["scheduled_time"] = format_time(task.started_at)
    if task.finished_at is not None:
        output["end_time"] = format_time(task.finished_at)
    output["orig_prompt"] = task.prompt
    if task.result is not None:
        output["video_url"] = task.result.video_url
    if task.error is not None:
        output["code"] = task.error.code
        output["message"] = task.error.message
    output["task_metrics"] = {
        "TOTAL": 1,
        "SUCCEEDED": int(task.status is Status.COMPLETED),
        "FAILED": int(task.status is Status.FAILED),
    }
    data: dict[str, Any] = {"request_id": request_id, "output": output}
    if task.usage is not None:
        data["usage"] = render_usage(task.usage, task.model, task.size)
    return data


def render_unknown(task_id: str, request_id: str) -> dict[str, Any]:
    """DashScope's answer for an id it does not know (or that is not the caller's)."""
    return {"request_id": request_id, "output": {"task_id": task_id, "task_status": "UNKNOWN"}}


def render_error(
    code: str, message: str, request_id: str, status: int = 500
) -> tuple[int, dict[str, Any]]:
    """A vidgate error code as DashScope's status and `{code, message, request_id}`.

    Codes DashScope has no word for keep their HTTP `status`, with DashScope's code for it.
    """
    found = ERROR_CODES.get(code)
    if found is None:
        found = (status, STATUS_CODES.get(status, "InternalServerError"))
    wire_status, wire_code = found
    return wire_status, {"code": wire_code, "message": message, "request_id": request_id}


def parse_task(data: object) -> Task:
    """A DashScope task query answer as the canonical task; unknown statuses stay running."""
    fields = require_object(data, "A task")
    output = require_object(fields.get("output") or {}, "output")
    raw = output.get("task_status")
    status = STATUS.canonical(raw) or Status.PROCESSING
    video_url = output.get("video_url")
    if not video_url:
        results = output.get("results")
        if isinstance(results, list) and results and isinstance(results[0], dict):
            video_url = results[0].get("url")
    usage = read_usage(fields.get("usage"))
    end = read_time(output.get("end_time"))
    result = None
    if status is Status.COMPLETED and isinstance(video_url, str):
        seconds = usage.output_video_duration if usage is not None else None
        result = Result(video_url=video_url, duration=seconds, source_url=video_url)
    error = None
    if status in (Status.FAILED, Status.CANCELLED) or output.get("code"):
        error = TaskError(
            code=str(output.get("code") or raw or "failed"),
            message=str(output.get("message") or f"Task {str(raw).lower()}."),
        )
    return Task(
        task_id=str(output.get("task_id", "")),
        status=status,
        progress=100 if status is Status.COMPLETED else 0,
        prompt=str(output.get("orig_prompt") or ""),
        created_at=read_time(output.get("submit_time")),
        started_at=read_time(output.get("scheduled_time")),
        finished_at=end,
        result=result,
        error=error,
        usage=usage,
        raw_status=str(raw),
    )
