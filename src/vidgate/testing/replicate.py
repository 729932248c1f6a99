"""A fake Replicate API: predictions by model or version, `Prefer: wait`, cancel, and webhooks
signed with Standard Webhooks (secret at `GET /v1/webhooks/default/secret`)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.catalog import SIZES
from vidgate.dialects.replicate_outbound import FPS, STATUS
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest
from vidgate.testing.callbacks import replicate_secret, replicate_signer, send_when_done
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "MAX_WAIT", "routes"]

API_BASE = ""
MAX_WAIT = 60
WAIT = re.compile(r"^wait(?:=(\d+))?$")


def _accept(state: FakeState, key: str, model: str, body: dict[str, Any]) -> FakeTask:
    inputs = body.get("input")
    if not isinstance(inputs, dict):
        raise InvalidRequest("input is required.", param="input")
    if not isinstance(inputs.get("prompt"), str) or not inputs["prompt"]:
        raise InvalidRequest("input.prompt is required.", param="input.prompt")
    resolution = str(inputs.get("resolution", "480p")).upper()
    frames = inputs.get("num_frames", 81)
    if resolution not in SIZES or not isinstance(frames, int) or frames < 17:
        raise InvalidRequest("input: invalid resolution or num_frames.", param="input")
    ratio = str(inputs.get("aspect_ratio", "16:9"))
    request = VideoRequest(
        prompt=inputs["prompt"],
        model=model,
        duration=max(1, (frames - 1) // FPS),
        resolution=resolution,
        ratio=ratio if ratio in SIZES[resolution] else "16:9",
    )
    return state.add(uuid.uuid4().hex[:26], key, request, body, default_duration=5)


def routes(state: FakeState) -> list[BaseRoute]:
    def render(task: FakeTask, base: str) -> dict[str, Any]:
        view = state.view(task, base)
        data: dict[str, Any] = {
            "id": task.task_id,
            "model": task.model,
            "version": task.body.get("version") or "official",
            "input": task.body.get("input"),
            "logs": "",
            "output": view.result.video_url if view.result else None,
            "error": view.error.message if view.status is Status.FAILED and view.error else None,
            "status": STATUS.wire(view.status),
            "created_at": view.created_at.isoformat() if view.created_at else None,
            "urls": {
                "get": f"{base}/v1/predictions/{task.task_id}",
                "cancel": f"{base}/v1/predictions/{task.task_id}/cancel",
            },
        }
        word = state.faults.take_unknown()
        if word is not None:
            data["status"] = word
        return data

    def missing() -> Response:
        return JSONResponse({"title": "Not found", "detail": "Not found.", "status": 404}, 404)

    async def hold(request: Request, task: FakeTask) -> None:
        """`Prefer: wait[=N]`: answer once the prediction ends, or after N seconds."""
        found = WAIT.match(request.headers.get("prefer", "").strip())
        if found is None:
            return
        seconds = min(MAX_WAIT, int(found.group(1) or MAX_WAIT))
        deadline = asyncio.get_running_loop().time() + seconds
        while not task.status(state.now()).terminal and not state.closing.is_set():
            if asyncio.get_running_loop().time() >= deadline:
                return
            await asyncio.sleep(0.02)

    async def create(request: Request, key: str, model: str) -> Response:
        body = await read_json(request)
        task = _accept(state, key, model, body)
        base = base_url(request)
        hook = body.get("webhook")
        if isinstance(hook, str) and hook:
            send_when_done(state, task, hook, lambda: render(task, base), replicate_signer(state))
        await hold(request, task)
        return JSONResponse(render(task, base), status_code=201)

    async def by_model(request: Request, key: str) -> Response:
        owner, name = request.path_params["owner"], request.path_params["name"]
        return await create(request, key, f"{owner}/{name}")

    async def by_version(request: Request, key: str) -> Response:
        return await create(request, key, "version")

    async def get(request: Request, key: str) -> Response:
        task = state.get(request.path_params["id"], key)
        if task is None:
            return missing()
        return JSONResponse(render(task, base_url(request)))

    async def cancel(request: Request, key: str) -> Response:
        task = state.get(request.path_params["id"], key)
        if task is None:
            return missing()
        state.cancel(task, frozenset({Status.QUEUED, Status.PROCESSING}))
        return JSONResponse(render(task, base_url(request)))

    async def secret(request: Request, key: str) -> Response:
        return JSONResponse({"key": replicate_secret(state)})

    one = "/v1/predictions/{id}"
    return [
        route(state, ["POST"], "/v1/models/{owner}/{name}/predictions", "submit", by_model),
        route(state, ["POST"], "/v1/predictions", "submit", by_version),
        route(state, ["GET"], one, "query", get),
        route(state, ["POST"], one + "/cancel", "cancel", cancel),
        route(state, ["GET"], "/v1/webhooks/default/secret", "secret", secret),
    ]
