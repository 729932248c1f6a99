"""A fake Runway API: `image_to_video`, `text_to_video`, `GET`/`DELETE /v1/tasks/{id}`, with the
`X-Runway-Version` header required, pixel-size ratios and expiring signed output URLs."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects.runway_outbound import RUNWAY_VERSION, STATUS
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "RATIOS", "routes"]

API_BASE = ""
RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
MODELS = {"gen4_turbo": ("image",), "gen4.5": ("text", "image")}
DURATIONS = {"gen4_turbo": (5, 10), "gen4.5": tuple(range(2, 11))}
CANCELLABLE = frozenset({Status.QUEUED, Status.PROCESSING, Status.COMPLETED, Status.FAILED})


def _accept(state: FakeState, key: str, body: dict[str, Any], kind: str) -> FakeTask:
    model = body.get("model")
    if model not in MODELS or kind not in MODELS[str(model)]:
        raise InvalidRequest(f"Invalid model for {kind}_to_video: {model!r}.", param="model")
    ratio = body.get("ratio")
    if ratio not in RATIOS:
        raise InvalidRequest(f"Invalid ratio: {ratio!r}.", param="ratio")
    duration = body.get("duration", 5)
    if duration not in DURATIONS[str(model)]:
        raise InvalidRequest(f"Invalid duration: {duration!r}.", param="duration")
    if kind == "image" and not isinstance(body.get("promptImage"), str | list):
        raise InvalidRequest("promptImage is required.", param="promptImage")
    if kind == "text" and not body.get("promptText"):
        raise InvalidRequest("promptText is required.", param="promptText")
    width, height = (int(part) for part in str(ratio).split(":"))
    request = VideoRequest(
        prompt=str(body.get("promptText") or ""),
        model=str(model),
        duration=int(duration),
        size=f"{width}*{height}",
    )
    return state.add(str(uuid.uuid4()), key, request, body, default_duration=5)


def routes(state: FakeState) -> list[BaseRoute]:
    style = state.style

    def version_problem(request: Request) -> Response | None:
        if request.headers.get("x-runway-version") != RUNWAY_VERSION:
            message = f"You must pass X-Runway-Version: {RUNWAY_VERSION}."
            return JSONResponse({"error": message}, status_code=400)
        return None

    def render(task: FakeTask, request: Request) -> dict[str, Any]:
        view = state.view(task, base_url(request))
        data: dict[str, Any] = {
            "id": task.task_id,
            "createdAt": view.created_at.isoformat() if view.created_at else None,
            "status": "THROTTLED" if task.extra.get("throttled") else STATUS.wire(view.status),
        }
        if view.status is Status.PROCESSING:
            data["progress"] = view.progress / 100
        if view.status is Status.COMPLETED and view.result is not None:
            data["output"] = [view.result.video_url]
        if view.status is Status.FAILED and view.error is not None:
            data["failure"] = view.error.message
            data["failureCode"] = view.error.code
        word = state.faults.take_unknown()
        if word is not None:
            data["status"] = word
        return data

    def creator(kind: str) -> Any:
        async def create(request: Request, key: str) -> Response:
            refused = version_problem(request)
            if refused is not None:
                return refused
            task = _accept(state, key, await read_json(request), kind)
            return JSONResponse({"id": task.task_id})

        return create

    async def retrieve(request: Request, key: str) -> Response:
        refused = version_problem(request)
        if refused is not None:
            return refused
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            return style.response(404, *style.not_found)
        return JSONResponse(render(task, request))

    async def delete(request: Request, key: str) -> Response:
        refused = version_problem(request)
        if refused is not None:
            return refused
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            return style.response(404, *style.not_found)
        if not state.cancel(task, frozenset({Status.QUEUED, Status.PROCESSING})):
            state.remove(task.task_id)
        return Response(status_code=204)

    one = "/v1/tasks/{task_id}"
    return [
        route(state, ["POST"], "/v1/image_to_video", "submit", creator("image")),
        route(state, ["POST"], "/v1/text_to_video", "submit", creator("text")),
        route(state, ["GET"], one, "query", retrieve),
        route(state, ["DELETE"], one, "cancel", delete),
    ]
