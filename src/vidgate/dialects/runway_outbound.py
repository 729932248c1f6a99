"""The calling side of Runway's API: `image_to_video` / `text_to_video`, then `/v1/tasks/{id}`."""

from __future__ import annotations

from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.dialects.hosted import image_of, snapshot
from vidgate.dialects.outbound import Call, ErrorFields, Outbound, text
from vidgate.models import Status, Task, VideoRequest

__all__ = ["OUTBOUND", "RUNWAY_VERSION", "STATUS", "RunwayOutbound", "ratio_of"]

RUNWAY_VERSION = "2024-11-06"
"""The `X-Runway-Version` every call carries; Runway refuses calls without it."""
STATUS = StatusWords(
    {
        Status.QUEUED: "PENDING",
        Status.PROCESSING: "RUNNING",
        Status.COMPLETED: "SUCCEEDED",
        Status.FAILED: "FAILED",
        Status.CANCELLED: "CANCELLED",
    },
    extra={"THROTTLED": Status.QUEUED},
)


def ratio_of(shape: Shape | None, request: VideoRequest) -> str:
    """Runway's `ratio` is the output size in pixels, `W:H`."""
    if shape is not None:
        return f"{shape.width}:{shape.height}"
    return (request.size or "1280:720").replace("*", ":").replace("x", ":")


class RunwayOutbound(Outbound):
    """Runway: text- or image-to-video by the input given; cancel and delete are both
    `DELETE /v1/tasks/{id}`."""

    name = "runway"
    status = STATUS
    headers = {"X-Runway-Version": RUNWAY_VERSION}

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        body: dict[str, Any] = {
            "model": request.model or "gen4_turbo",
            "ratio": ratio_of(shape, request),
            "duration": shape.duration if shape else (request.duration or 5),
        }
        if request.prompt:
            body["promptText"] = request.prompt
        if request.seed is not None:
            body["seed"] = request.seed
        image = image_of(request)
        if image:
            body["promptImage"] = image
            return Call("POST", "/v1/image_to_video", body, headers=self.headers)
        return Call("POST", "/v1/text_to_video", body, headers=self.headers)

    def submitted_id(self, data: object) -> str | None:
        return text(data.get("id")) if isinstance(data, dict) else None

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", f"/v1/tasks/{task_id}", headers=self.headers)

    def parse(self, data: object) -> Task:
        body = data if isinstance(data, dict) else {}
        output = body.get("output")
        url = text(output[0]) if isinstance(output, list) and output else None
        return snapshot(
            str(body.get("id") or ""),
            body.get("status"),
            STATUS,
            progress=float(body.get("progress") or 0) * 100,
            video_url=url,
            error={"code": body.get("failureCode"), "message": body.get("failure")},
        )

    def cancel(self, task_id: str) -> Call | None:
        return Call("DELETE", f"/v1/tasks/{task_id}", headers=self.headers)

    def error(self, body: object) -> ErrorFields:
        """`{"error": "message"}`, sometimes with `issues`; no code of its own."""
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return ErrorFields(text(body.get("code")), body["error"], None)
        return super().error(body)


OUTBOUND = RunwayOutbound()
