"""The calling side of Luma's Dream Machine API: `generations`, create, get and delete."""

from __future__ import annotations

from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.dialects.hosted import image_of, snapshot
from vidgate.dialects.outbound import Call, ErrorFields, Outbound, text
from vidgate.models import Status, Task, VideoRequest

__all__ = ["OUTBOUND", "STATUS", "LumaOutbound"]

STATUS = StatusWords(
    {
        Status.QUEUED: "queued",
        Status.PROCESSING: "dreaming",
        Status.COMPLETED: "completed",
        Status.FAILED: "failed",
    }
)


class LumaOutbound(Outbound):
    """Luma: paths under `…/dream-machine/v1`; the generation's `callback_url` receives the
    generation object, unsigned, at each state change. No cancel: delete removes it."""

    name = "luma"
    status = STATUS
    callback_field = "callback_url"

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "model": request.model or "ray-2",
            "generation_type": "video",
        }
        if shape is not None:
            body["aspect_ratio"] = shape.ratio
            body["resolution"] = shape.resolution.lower()
            body["duration"] = f"{shape.duration}s"
        image = image_of(request)
        frames: dict[str, Any] = {}
        if image:
            frames["frame0"] = {"type": "image", "url": image}
        if request.last_frame_url:
            frames["frame1"] = {"type": "image", "url": request.last_frame_url}
        if frames:
            body["keyframes"] = frames
        if request.callback_url:
            body["callback_url"] = request.callback_url
        return Call("POST", "/generations/video", body)

    def submitted_id(self, data: object) -> str | None:
        return text(data.get("id")) if isinstance(data, dict) else None

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", f"/generations/{task_id}")

    def parse(self, data: object) -> Task:
        body = data if isinstance(data, dict) else {}
        assets = body.get("assets")
        url = text(assets.get("video")) if isinstance(assets, dict) else None
        reason = text(body.get("failure_reason"))
        return snapshot(
            str(body.get("id") or ""),
            body.get("state"),
            STATUS,
            model=str(body.get("model") or ""),
            video_url=url,
            error={"code": _failure_code(reason), "message": reason},
        )

    def delete(self, task_id: str) -> Call | None:
        return Call("DELETE", f"/generations/{task_id}")

    def error(self, body: object) -> ErrorFields:
        """`{"detail": "message"}`."""
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            return ErrorFields(None, body["detail"], None)
        return super().error(body)


def _failure_code(reason: str | None) -> str:
    """Luma gives a reason, not a code; moderation refusals are told apart by their words."""
    if reason and any(word in reason.lower() for word in ("moderation", "policy", "blocked")):
        return "content_moderation"
    return "generation_failed"


OUTBOUND = LumaOutbound()
