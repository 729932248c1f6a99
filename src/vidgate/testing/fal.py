"""A fake fal queue API: submit to `/{app}/{endpoint}`, then `requests/{id}/status`, the result
and `cancel` under `/{app}`; `Authorization: Key …`; `fal_webhook` callbacks signed with
ED25519 over the `X-Fal-Webhook-*` headers, the key served as a JWKS."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from vidgate.catalog import SIZES
from vidgate.dialects.fal_outbound import FPS, app_of
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest
from vidgate.testing.callbacks import fal_jwks, fal_signer, send_when_done
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "JWKS_PATH", "routes"]

API_BASE = ""
JWKS_PATH = "/.well-known/jwks.json"
RESOLUTIONS = ("480p", "580p", "720p")
RATIOS = ("16:9", "9:16", "1:1")


def _accept(state: FakeState, key: str, model: str, body: dict[str, Any]) -> FakeTask:
    if state.models is not None and model not in state.models:
        raise InvalidRequest(f"Application {model!r} not found.", param="model")
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        raise InvalidRequest("Field required", param="prompt")
    resolution = str(body.get("resolution", "720p"))
    ratio = str(body.get("aspect_ratio", "16:9"))
    if resolution not in RESOLUTIONS:
        raise InvalidRequest(f"Input should be {', '.join(RESOLUTIONS)}", param="resolution")
    if ratio not in RATIOS:
        raise InvalidRequest(f"Input should be {', '.join(RATIOS)}", param="aspect_ratio")
    frames = body.get("num_frames", 81)
    if not isinstance(frames, int) or not 17 <= frames <= 161:
        raise InvalidRequest("num_frames must be within 17-161", param="num_frames")
    tier = resolution.upper() if resolution.upper() in SIZES else "720P"
    request = VideoRequest(
        prompt=body["prompt"],
        model=model,
        duration=max(1, (frames - 1) // FPS),
        resolution=tier,
        ratio=ratio,
    )
    return state.add(str(uuid.uuid4()), key, request, body, default_duration=5)


def routes(state: FakeState) -> list[BaseRoute]:
    def urls(task: FakeTask, base: str) -> dict[str, str]:
        root = f"{base}/{app_of(task.model)}/requests/{task.task_id}"
        return {
            "response_url": root,
            "status_url": root + "/status",
            "cancel_url": root + "/cancel",
        }

    def status_of(task: FakeTask, base: str) -> dict[str, Any]:
        view = state.view(task, base)
        data: dict[str, Any] = {"request_id": task.task_id, **urls(task, base), "logs": None}
        if view.status is Status.QUEUED:
            data.update(status="IN_QUEUE", queue_position=0)
        elif view.status is Status.PROCESSING:
            data.update(status="IN_PROGRESS")
        else:
            data.update(status="COMPLETED", metrics={"inference_time": task.render_seconds})
            if view.error is not None:
                data.update(error=view.error.message, error_type=view.error.code)
        word = state.faults.take_unknown()
        if word is not None:
            data["status"] = word
        return data

    def missing() -> Response:
        return JSONResponse({"detail": "Request not found"}, status_code=404)

    def find(request: Request, key: str) -> FakeTask | None:
        task = state.get(request.path_params["request_id"], key)
        if task is None or app_of(task.model) != request.path_params["app"]:
            return None
        return task

    def webhook_body(task: FakeTask, base: str) -> dict[str, Any]:
        view = state.view(task, base)
        if view.status is Status.COMPLETED and view.result is not None:
            return {
                "request_id": task.task_id,
                "gateway_request_id": task.task_id,
                "status": "OK",
                "payload": {"video": {"url": view.result.video_url}},
            }
        message = view.error.message if view.error else "Request failed"
        return {
            "request_id": task.task_id,
            "gateway_request_id": task.task_id,
            "status": "ERROR",
            "error": message,
            "payload": {
                "detail": [{"msg": message, "type": view.error.code if view.error else ""}]
            },
        }

    async def submit(request: Request, key: str) -> Response:
        model = request.path_params["model"].strip("/")
        task = _accept(state, key, model, await read_json(request))
        base = base_url(request)
        hook = request.query_params.get("fal_webhook")
        if hook:
            task.extra["webhook"] = hook
            send_when_done(
                state, task, hook, lambda: webhook_body(task, base), fal_signer(state, task.task_id)
            )
        return JSONResponse(
            {"request_id": task.task_id, "gateway_request_id": task.task_id, **urls(task, base)}
        )

    async def status(request: Request, key: str) -> Response:
        task = find(request, key)
        if task is None:
            return missing()
        code = 202 if task.status(state.now()) is Status.QUEUED else 200
        return JSONResponse(status_of(task, base_url(request)), status_code=code)

    async def result(request: Request, key: str) -> Response:
        task = find(request, key)
        if task is None:
            return missing()
        view = state.view(task, base_url(request))
        if not view.status.terminal:
            return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
        if view.error is not None:
            detail = [{"loc": ["body"], "msg": view.error.message, "type": view.error.code}]
            return JSONResponse({"detail": detail}, status_code=422)
        assert view.result is not None
        return JSONResponse({"video": {"url": view.result.video_url, "content_type": "video/mp4"}})

    async def cancel(request: Request, key: str) -> Response:
        task = find(request, key)
        if task is None:
            return missing()
        if state.cancel(task, frozenset({Status.QUEUED})):
            return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)
        return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)

    async def jwks(request: Request) -> Response:
        return JSONResponse(fal_jwks(state))

    one = "/{app:path}/requests/{request_id}"
    return [
        Route(JWKS_PATH, jwks, methods=["GET"]),
        route(state, ["GET"], one + "/status", "query", status),
        route(state, ["PUT"], one + "/cancel", "cancel", cancel),
        route(state, ["GET"], one, "content", result),
        route(state, ["POST"], "/{model:path}", "submit", submit),
    ]
