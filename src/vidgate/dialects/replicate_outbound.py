"""The calling side of Replicate's predictions API, with `Prefer: wait` and cancel."""

from __future__ import annotations

from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.dialects.hosted import image_of, snapshot
from vidgate.dialects.outbound import Call, ErrorFields, Outbound, text
from vidgate.models import Status, Task, VideoRequest

__all__ = ["FPS", "OUTBOUND", "PREFER_WAIT", "STATUS", "ReplicateOutbound"]

FPS = 16
PREFER_WAIT = 1
"""Seconds a create may be held for a quick prediction; video ones rarely end so soon, so the
hold is short and the answer is whatever state the prediction reached."""
STATUS = StatusWords(
    {
        Status.QUEUED: "starting",
        Status.PROCESSING: "processing",
        Status.COMPLETED: "succeeded",
        Status.FAILED: "failed",
        Status.CANCELLED: "canceled",
    }
)


class ReplicateOutbound(Outbound):
    """Replicate: official models by `owner/name`, `input` holding the model's own fields; a
    webhook, when vidgate has a public URL, reports completion, signed (Standard Webhooks)."""

    name = "replicate"
    status = STATUS
    callback_field = "webhook"

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        model = request.model or "wan-video/wan-2.2-t2v-fast"
        inputs: dict[str, Any] = {"prompt": request.prompt}
        if shape is not None:
            inputs["num_frames"] = shape.duration * FPS + 1
            inputs["frames_per_second"] = FPS
            inputs["resolution"] = shape.resolution.lower()
            inputs["aspect_ratio"] = shape.ratio
        image = image_of(request)
        if image:
            inputs["image"] = image
        if request.seed is not None:
            inputs["seed"] = request.seed
        body: dict[str, Any] = {"input": inputs}
        if request.callback_url:
            body["webhook"] = request.callback_url
            body["webhook_events_filter"] = ["completed"]
        headers = {"Prefer": f"wait={PREFER_WAIT}"}
        return Call("POST", f"/v1/models/{model.strip('/')}/predictions", body, headers=headers)

    def submitted_id(self, data: object) -> str | None:
        return text(data.get("id")) if isinstance(data, dict) else None

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", f"/v1/predictions/{task_id}")

    def parse(self, data: object) -> Task:
        body = data if isinstance(data, dict) else {}
        output = body.get("output")
        url = text(output[0] if isinstance(output, list) and output else output)
        error = body.get("error")
        return snapshot(
            str(body.get("id") or ""),
            body.get("status"),
            STATUS,
            model=str(body.get("model") or ""),
            video_url=url,
            error={"code": _failure_code(error), "message": error},
        )

    def cancel(self, task_id: str) -> Call | None:
        return Call("POST", f"/v1/predictions/{task_id}/cancel")

    def secret(self) -> Call:
        """The account's webhook signing secret, `{"key": "whsec_…"}`."""
        return Call("GET", "/v1/webhooks/default/secret")

    def error(self, body: object) -> ErrorFields:
        """Problem details: `{"title", "detail", "status"}`."""
        if isinstance(body, dict) and ("detail" in body or "title" in body):
            return ErrorFields(text(body.get("title")), text(body.get("detail")), None)
        return super().error(body)


def _failure_code(error: object) -> str:
    """Replicate fails with a message only; a safety checker's refusal says NSFW or sensitive."""
    message = str(error or "").lower()
    if any(word in message for word in ("nsfw", "sensitive", "safety", "flagged")):
        return "content_flagged"
    return "prediction_failed"


OUTBOUND = ReplicateOutbound()
