"""The calling side of fal's queue API: submit, status, result and cancel."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.dialects.hosted import image_of, snapshot
from vidgate.dialects.outbound import Call, ErrorFields, Outbound, text
from vidgate.models import Status, Task, VideoRequest

__all__ = ["FPS", "OUTBOUND", "STATUS", "FalOutbound", "app_of", "split_id"]

FPS = 16
"""fal's Wan endpoints count length in frames at 16 per second, plus one."""
STATUS = StatusWords(
    {Status.QUEUED: "IN_QUEUE", Status.PROCESSING: "IN_PROGRESS", Status.COMPLETED: "COMPLETED"}
)
FAILED = StatusWords({Status.FAILED: "FAILED"})
"""A completed request that carries an `error` reads as failed."""


def app_of(model: str) -> str:
    """`owner/alias` of a model id such as `fal-ai/wan/v2.2-a14b/text-to-video`: the queue's
    status, result and cancel paths name the app only, not the endpoint under it."""
    return "/".join(model.strip("/").split("/")[:2])


def split_id(upstream_id: str) -> tuple[str, str]:
    """(`owner/alias`, request id) of the id vidgate keeps, `owner/alias/request_id`."""
    app, _, request_id = upstream_id.rpartition("/")
    return app, request_id


class FalOutbound(Outbound):
    """fal: `Authorization: Key …`; a request id is only meaningful with its app, so the id kept
    is `owner/alias/request_id`. The status answer says COMPLETED for failures too: the result
    call tells them apart."""

    name = "fal"
    status = STATUS
    callback_field = "fal_webhook"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}"}

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        model = request.model or "fal-ai/wan/v2.2-a14b/text-to-video"
        body: dict[str, Any] = {"prompt": request.prompt}
        if shape is not None:
            body["num_frames"] = shape.duration * FPS + 1
            body["frames_per_second"] = FPS
            body["resolution"] = shape.resolution.lower()
            body["aspect_ratio"] = shape.ratio
        image = image_of(request)
        if image:
            body["image_url"] = image
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            body["seed"] = request.seed
        params: dict[str, str | int] = {}
        if request.callback_url:
            params["fal_webhook"] = request.callback_url
        return Call("POST", f"/{model.strip('/')}", body, params=params)

    def submitted_id(self, data: object) -> str | None:
        if not isinstance(data, dict):
            return None
        request_id = text(data.get("request_id"))
        url = text(data.get("status_url")) or text(data.get("response_url"))
        if not request_id or not url:
            return None
        path = urlsplit(url).path.strip("/")
        app = path.split("/requests/")[0]
        return f"{app}/{request_id}" if app else None

    def retrieve(self, task_id: str) -> Call:
        app, request_id = split_id(task_id)
        return Call("GET", f"/{app}/requests/{request_id}/status", params={"logs": 0})

    def parse(self, data: object) -> Task:
        body = data if isinstance(data, dict) else {}
        word = body.get("status")
        task = snapshot(str(body.get("request_id") or ""), word, STATUS)
        if word == "COMPLETED" and body.get("error"):
            error = {"code": body.get("error_type") or "request_failed", "message": body["error"]}
            return snapshot(task.task_id, "FAILED", FAILED, error=error)
        if word == "COMPLETED":
            # Done: `result_call` fetches the video's URL.
            return task.model_copy(update={"status": Status.COMPLETED, "progress": 100})
        return task

    def result_call(self, data: object) -> Call | None:
        body = data if isinstance(data, dict) else {}
        if body.get("status") != "COMPLETED":
            return None
        url = text(body.get("response_url"))
        if url:
            return Call("GET", urlsplit(url).path)
        return None

    def result_location(self, data: object) -> str | None:
        video = data.get("video") if isinstance(data, dict) else None
        return text(video.get("url")) if isinstance(video, dict) else None

    def cancel(self, task_id: str) -> Call | None:
        app, request_id = split_id(task_id)
        return Call("PUT", f"/{app}/requests/{request_id}/cancel")

    def error(self, body: object) -> ErrorFields:
        """`{"detail": "…"}` or `{"detail": [{"loc", "msg", "type"}]}`."""
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, str):
            return ErrorFields(None, detail, None)
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            first = detail[0]
            return ErrorFields(text(first.get("type")), text(first.get("msg")), None)
        return super().error(body)


OUTBOUND = FalOutbound()
