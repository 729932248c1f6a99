"""A fake Luma Dream Machine API: `generations` create, get and delete under
`/dream-machine/v1`, with `callback_url` (the generation object POSTed, unsigned)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.catalog import SIZES
from vidgate.dialects.luma_outbound import STATUS
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest
from vidgate.testing.callbacks import send_when_done
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "routes"]

API_BASE = "/dream-machine/v1"
MODELS = ("ray-2", "ray-flash-2")
RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
DURATIONS = ("5s", "9s")


def _accept(state: FakeState, key: str, body: dict[str, Any]) -> FakeTask:
    model = body.get("model")
    if model not in MODELS:
        raise InvalidRequest(f"Invalid model: {model!r}.", param="model")
    ratio = str(body.get("aspect_ratio", "16:9"))
    resolution = str(body.get("resolution", "720p"))
    duration = str(body.get("duration", "5s"))
    for name, value, allowed in (
        ("aspect_ratio", ratio, RATIOS),
        ("resolution", resolution, RESOLUTIONS),
        ("duration", duration, DURATIONS),
    ):
        if value not in allowed:
            raise InvalidRequest(f"Invalid {name}: {value!r}.", param=name)
    tier = resolution.upper() if resolution.upper() in SIZES else "720P"
    request = VideoRequest(
        prompt=str(body.get("prompt") or ""),
        model=str(model),
        duration=int(duration[:-1]),
        resolution=tier,
        ratio=ratio if ratio in SIZES[tier] else "16:9",
    )
    return state.add(str(uuid.uuid4()), key, request, body, default_duration=5)


def routes(state: FakeState) -> list[BaseRoute]:
    def render(task: FakeTask, base: str) -> dict[str, Any]:
        view = state.view(task, base)
        data: dict[str, Any] = {
            "id": task.task_id,
            "generation_type": "video",
            "state": STATUS.wire(view.status) if view.status is not Status.CANCELLED else "failed",
            "failure_reason": view.error.message if view.error else None,
            "created_at": view.created_at.isoformat() if view.created_at else None,
            "assets": {"video": view.result.video_url} if view.result else None,
            "model": task.model,
            "request": task.body,
        }
        word = state.faults.take_unknown()
        if word is not None:
            data["state"] = word
        return data

    def missing() -> Response:
        return JSONResponse({"detail": "Generation not found"}, status_code=404)

    async def create(request: Request, key: str) -> Response:
        body = await read_json(request)
        task = _accept(state, key, body)
        base = base_url(request)
        callback = body.get("callback_url")
        if isinstance(callback, str) and callback:
            send_when_done(state, task, callback, lambda: render(task, base))
        return JSONResponse(render(task, base), status_code=201)

    async def get(request: Request, key: str) -> Response:
        task = state.get(request.path_params["id"], key)
        if task is None:
            return missing()
        return JSONResponse(render(task, base_url(request)))

    async def delete(request: Request, key: str) -> Response:
        task = state.get(request.path_params["id"], key)
        if task is None:
            return missing()
        state.cancel(task, frozenset({Status.QUEUED, Status.PROCESSING}))
        state.remove(task.task_id)
        return Response(status_code=204)

    one = API_BASE + "/generations/{id}"
    return [
        route(state, ["POST"], API_BASE + "/generations/video", "submit", create),
        route(state, ["POST"], API_BASE + "/generations", "submit", create),
        route(state, ["GET"], one, "query", get),
        route(state, ["DELETE"], one, "delete", delete),
    ]
