"""OpenAI's videos dialect (`/v1/videos`), the de-facto relay shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from vidgate.catalog import Shape
from vidgate.dialects.common import (
    PUSH_FIELDS,
    StatusWords,
    from_unix,
    push_fields,
    require_object,
    unix,
    validate_request,
    whole_number,
)
from vidgate.dialects.outbound import Call, Outbound, TaskPage, text
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, Result, Status, Task, TaskError, VideoRequest

__all__ = [
    "API_BASE",
    "CREATE_FIELDS",
    "CREATE_PATH",
    "DERIVED_PATHS",
    "ERROR_TYPES",
    "OUTBOUND",
    "PARAMS",
    "REMIXED_FROM",
    "SOURCE",
    "STATUS",
    "Derivation",
    "DerivationKind",
    "OpenAIOutbound",
    "build_create",
    "parse_create",
    "parse_derivation",
    "parse_task",
    "render_character",
    "render_deleted",
    "render_error",
    "render_list",
    "render_task",
    "task_path",
    "wire_param",
]

API_BASE = "/v1"
"""The path an OpenAI client's base URL ends in (`https://api.openai.com/v1`)."""
CREATE_PATH = f"{API_BASE}/videos"
STATUS = StatusWords(
    {
        Status.QUEUED: "queued",
        Status.PROCESSING: "in_progress",
        Status.COMPLETED: "completed",
        Status.FAILED: "failed",
        Status.CANCELLED: "failed",
    }
)
STATUS.from_wire["failed"] = Status.FAILED
CREATE_FIELDS = {"model", "prompt", "seconds", "size", "input_reference", *PUSH_FIELDS}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
PARAMS = {
    "duration": "seconds",
    "img_url": "input_reference",
    "file": "input_reference",
    "task_id": "video_id",
    "video_url": "video",
}
"""Canonical field names as this dialect calls them."""
DerivationKind = Literal["remix", "edit", "extend"]
DERIVED_PATHS: dict[DerivationKind, str] = {
    "edit": f"{CREATE_PATH}/edits",
    "extend": f"{CREATE_PATH}/extensions",
}
"""Where a remix (`/videos/{id}/remix`, by path) and these derivations are created."""
REMIXED_FROM = "remixed_from_video_id"
"""The `metadata` key that names the video a remix was made from."""
SOURCE = ("openai_derivation", "openai_source_video")
"""The `vace` keys of a request derived from a video that an OpenAI upstream holds: the
derivation (remix, edit, extend) and that video's id there. Only the gateway's own OpenAI
routes set them, and `OUTBOUND.create` sends such a request to the derivation's route."""
DERIVATION_FIELDS: dict[DerivationKind, frozenset[str]] = {
    "remix": frozenset({"prompt"}),
    "edit": frozenset({"prompt", "video"}),
    "extend": frozenset({"prompt", "video", "seconds"}),
}


@dataclass(frozen=True)
class Derivation:
    """A remix, edit or extension: the new prompt and which video it starts from.

    `video_id` names a video of this API; without it the source is an uploaded file.
    `seconds` is the length of an extension's new segment.
    """

    kind: DerivationKind
    prompt: str
    video_id: str | None = None
    seconds: int | None = None


def task_path(task_id: str) -> str:
    return f"/v1/videos/{task_id}"


def wire_param(param: str | None) -> str | None:
    """A canonical field name as this dialect's clients know it."""
    return PARAMS.get(param, param) if param is not None else None


def _reference(value: object) -> str | None:
    """`input_reference` given as a URL, or as `{"image_url": …}`."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in value:
            if key not in ("image_url", "file_id"):
                name = f"input_reference.{key}"
                raise InvalidRequest(f"{name}: unknown parameter.", param=name)
        url = value.get("image_url")
        if isinstance(url, str) and url:
            return url
        if "file_id" in value:
            raise InvalidRequest(
                "input_reference.file_id is not supported: upload the image as input_reference "
                "or give its image_url.",
                param="input_reference",
            )
    raise InvalidRequest(
        "input_reference must be an image file, an image URL or {image_url}.",
        param="input_reference",
    )


def _seconds(value: object) -> int | None:
    """`seconds` as a string of digits (the API's own spelling) or a JSON integer."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    seconds = whole_number(value) if isinstance(value, str) else None
    if seconds is None:
        raise InvalidRequest(
            'seconds must be a whole number of seconds, e.g. "8".', param="seconds"
        )
    return seconds


def parse_create(body: object, input_reference_url: str | None = None) -> VideoRequest:
    """`{model, prompt, seconds: "4", size: "720x1280"}`; a reference image makes it i2v."""
    fields = require_object(body)
    for key in fields:
        if key not in CREATE_FIELDS:
            raise InvalidRequest(f"{key}: unknown parameter.", param=key)
    seconds = _seconds(fields.get("seconds"))
    reference = input_reference_url or _reference(fields.get("input_reference"))
    canonical: dict[str, Any] = {
        "model": fields.get("model") or "sora-2",
        "prompt": fields.get("prompt", ""),
        "duration": seconds,
        "size": fields.get("size"),
    }
    if reference is not None:
        canonical["img_url"] = reference
        canonical["mode"] = Mode.I2V
    canonical.update(push_fields(fields))
    return validate_request({k: v for k, v in canonical.items() if v is not None})


def parse_derivation(
    kind: DerivationKind, body: object, *, video_id: str | None = None, uploaded: bool = False
) -> Derivation:
    """A remix body `{prompt}` (its video is in the path), or an edit or extension:
    `{prompt, video: {id}}` (or `video` uploaded as a file), an extension with `seconds`."""
    fields = require_object(body)
    for key in fields:
        if key not in DERIVATION_FIELDS[kind]:
            raise InvalidRequest(f"{key}: unknown parameter.", param=key)
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("prompt is required: say what the new video shows.", param="prompt")
    seconds = _seconds(fields.get("seconds")) if kind == "extend" else None
    if kind == "extend" and seconds is None:
        raise InvalidRequest(
            'seconds is required: the length of the extension, e.g. "4".', param="seconds"
        )
    if kind != "remix" and not uploaded:
        video = fields.get("video")
        if not isinstance(video, Mapping) or set(video) != {"id"} or not video.get("id"):
            raise InvalidRequest(
                "video must be a video file or {id} of a completed video.", param="video"
            )
        video_id = str(video["id"])
    return Derivation(kind, prompt, video_id, seconds)


def build_create(request: VideoRequest, shape: Shape | None = None) -> dict[str, Any]:
    """The create body; a resolved `shape` goes as `seconds` and a `WxH` size."""
    body: dict[str, Any] = {"prompt": request.prompt}
    if request.model:
        body["model"] = request.model
    duration = shape.duration if shape is not None else request.duration
    if duration is not None:
        body["seconds"] = str(duration)
    if shape is not None:
        body["size"] = f"{shape.width}x{shape.height}"
    elif request.size:
        body["size"] = request.size.replace("*", "x")
    if request.img_url:
        body["input_reference"] = request.img_url
    return body


def render_task(task: Task) -> dict[str, Any]:
    """The task as an OpenAI video object."""
    error = task.error.model_dump() if task.error is not None else None
    return {
        "id": task.task_id,
        "object": "video",
        "model": task.model,
        "status": STATUS.wire(task.status),
        "progress": task.progress,
        "created_at": unix(task.created_at),
        "completed_at": unix(task.finished_at) if task.status.terminal else None,
        "expires_at": unix(task.result.expires_at) if task.result is not None else None,
        "seconds": str(task.duration) if task.duration is not None else None,
        "size": task.size.replace("*", "x") if task.size else None,
        "error": error,
        "remixed_from_video_id": (task.metadata or {}).get(REMIXED_FROM),
        "prompt": task.prompt,
    }


def render_list(videos: Sequence[Task], has_more: bool) -> dict[str, Any]:
    """A cursor page: pass `last_id` as `after` for the next one."""
    data = [render_task(video) for video in videos]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def render_character(character_id: str, name: str, created_at: datetime) -> dict[str, Any]:
    """A character as create and get answer it."""
    return {"id": character_id, "name": name, "created_at": unix(created_at)}


def render_deleted(video_id: str) -> dict[str, Any]:
    return {"id": video_id, "object": "video.deleted", "deleted": True}


def render_error(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(status, "server_error"),
            "param": param,
            "code": code,
        }
    }


def parse_task(data: object) -> Task:
    fields = require_object(data, "A video")
    raw = fields.get("status")
    status = STATUS.canonical(raw) or Status.PROCESSING
    error = fields.get("error")
    if status is Status.FAILED and isinstance(error, dict) and error.get("code") == "cancelled":
        status = Status.CANCELLED
    progress = fields.get("progress")
    seconds = fields.get("seconds")
    return Task(
        task_id=str(fields.get("id", "")),
        status=status,
        progress=progress if isinstance(progress, int) else 0,
        model=str(fields.get("model") or ""),
        prompt=str(fields.get("prompt") or ""),
        duration=whole_number(seconds) if isinstance(seconds, str) else None,
        size=fields.get("size") if isinstance(fields.get("size"), str) else None,
        created_at=from_unix(fields.get("created_at")),
        finished_at=from_unix(fields.get("completed_at")),
        result=Result(
            video_url=f"{task_path(str(fields.get('id')))}/content",
            expires_at=from_unix(fields.get("expires_at")),
        )
        if status is Status.COMPLETED
        else None,
        error=TaskError(code=str(error.get("code")), message=str(error.get("message")))
        if isinstance(error, dict)
        else None,
        raw_status=str(raw),
    )


class OpenAIOutbound(Outbound):
    """OpenAI's `/v1/videos`: no cancel (a video can only be deleted); the file itself comes
    from `/v1/videos/{id}/content`."""

    name = "openai"
    status = STATUS
    base_path = API_BASE

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        """A plain create, or a remix, edit or extension of a video this upstream holds."""
        kind, source = (request.vace.get(key) for key in SOURCE)
        if not isinstance(source, str) or not source:
            return Call("POST", CREATE_PATH, build_create(request, shape))
        if kind == "remix":
            return Call("POST", f"{task_path(source)}/remix", {"prompt": request.prompt})
        body: dict[str, Any] = {"prompt": request.prompt, "video": {"id": source}}
        if kind == "extend":
            duration = shape.duration if shape is not None else request.duration
            body["seconds"] = str(duration)
        return Call("POST", DERIVED_PATHS["edit" if kind == "edit" else "extend"], body)

    def submitted_id(self, data: object) -> str | None:
        return text(data.get("id")) if isinstance(data, dict) else None

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", task_path(task_id))

    def parse(self, data: object) -> Task:
        return parse_task(data)

    def delete(self, task_id: str) -> Call | None:
        return Call("DELETE", task_path(task_id))

    def content(self, task_id: str) -> Call | None:
        return Call("GET", f"{task_path(task_id)}/content")

    def list(
        self, *, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> Call | None:
        params: dict[str, str | int] = {"limit": limit}
        if after:
            params["after"] = after
        return Call("GET", CREATE_PATH, params=params)

    def page(self, data: Any, status: Status | None) -> TaskPage:
        """The page as served; `status` filters it here, as the API has no such filter."""
        tasks = [self.parse(item) for item in data.get("data", [])]
        more = bool(data.get("has_more"))
        last = data.get("last_id") or (tasks[-1].task_id if tasks else None)
        if status is not None:
            tasks = [task for task in tasks if task.status is status]
        return TaskPage(tasks, more, last if more else None)


OUTBOUND = OpenAIOutbound()
