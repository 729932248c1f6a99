"""vidgate's own dialect (seed 002): flat request bodies and the canonical task JSON."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from vidgate.errors import InvalidRequest
from vidgate.models import Task, VideoRequest

__all__ = ["VACE_PARAMETERS", "parse_create", "render_task", "validation_error"]

VACE_PARAMETERS = frozenset(
    {
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
        "prompt_extend",
        "watermark",
        "shot_type",
        "audio",
        "first_clip_url",
        "last_clip_url",
    }
)


def validation_error(error: ValidationError, prefix: str = "") -> InvalidRequest:
    """The first pydantic error as a 400 naming its field."""
    first = error.errors()[0]
    field = prefix + ".".join(str(part) for part in first["loc"])
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    return InvalidRequest(f"{field}: {message}.", param=field or None)


def parse_create(body: Any) -> VideoRequest:
    """A flat native create body as the canonical request."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    fields = {k: v for k, v in body.items() if k not in VACE_PARAMETERS}
    vace = {k: v for k, v in body.items() if k in VACE_PARAMETERS}
    if "vace" in fields:
        raise InvalidRequest("vace parameters go at the top level of the body.", param="vace")
    try:
        return VideoRequest.model_validate({**fields, "vace": vace})
    except ValidationError as exc:
        raise validation_error(exc) from None


def render_task(task: Task) -> dict[str, Any]:
    """The task as the native API shows it."""
    data = task.model_dump(mode="json", exclude_none=True)
    data.setdefault("started_at", None)
    data.setdefault("finished_at", None)
    return data
