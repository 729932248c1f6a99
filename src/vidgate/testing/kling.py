"""A fake Kling API: `text2video` and `image2video`, each read back at its own path, behind a
JWT bearer that the fake verifies (see `credentials.kling_key`), with `callback_url` (the
task's data object POSTed, unsigned, when it ends)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects.common import millis
from vidgate.dialects.kling_outbound import ASPECT_RATIOS, MODES, STATUS
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest
from vidgate.testing.callbacks import send_when_done
from vidgate.testing.endpoint import Handler, base_url, read_json, route
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "DURATIONS", "MODELS", "routes"]

API_BASE = ""
"""Kling's clients take the bare origin (`https://api-singapore.klingai.com`) as base URL."""
MODELS = (
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
)
DURATIONS = ("5", "10")
TIERS = {mode: tier for tier, mode in MODES.items()}
MAX_PROMPT = 2500


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(allowed)}.", param=name)
    return str(value)


def _accept(state: FakeState, key: str, body: dict[str, Any], kind: str) -> FakeTask:
    model = _choice(body, "model_name", MODELS, "kling-v1")
    if state.models is not None and model not in state.models:
        raise InvalidRequest(f"model_name {model} is not available.", param="model_name")
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str) or len(prompt) > MAX_PROMPT:
        raise InvalidRequest(f"prompt must be text of at most {MAX_PROMPT} characters.")
    if kind == "text2video" and not prompt:
        raise InvalidRequest("prompt is required.", param="prompt")
    mode = _choice(body, "mode", tuple(TIERS), "std")
    duration = _choice(body, "duration", DURATIONS, "5")
    fields: dict[str, Any] = {
        "prompt": prompt,
        "model": model,
        "duration": int(duration),
        "resolution": TIERS[mode],
    }
    if kind == "text2video":
        fields["ratio"] = _choice(body, "aspect_ratio", ASPECT_RATIOS, "16:9")
    else:
        image = body.get("image")
        if not isinstance(image, str) or not image:
            raise InvalidRequest("image is required.", param="image")
        if image.startswith("data:"):
            raise InvalidRequest("image must be a URL or bare base64, without a data: prefix.")
        fields["img_url"] = image
    task = state.add(uuid.uuid4().hex[:18], key, VideoRequest(**fields), body)
    task.extra["kind"] = kind
    return task


def _task_data(state: FakeState, task: FakeTask, base: str) -> dict[str, Any]:
    view = state.view(task, base)
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": STATUS.wire(view.status)
        if view.status is not Status.CANCELLED
        else "failed",
        "task_info": {},
        "created_at": millis(view.created_at),
        "updated_at": millis(view.updated_at),
    }
    if view.error is not None:
        data["task_status_msg"] = view.error.message
    if view.result is not None:
        data["task_result"] = {
            "videos": [
                {
                    "id": f"v{task.task_id}",
                    "url": view.result.video_url,
                    "duration": str(task.duration),
                }
            ]
        }
    return data


def _answer(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data}
    )


def routes(state: FakeState) -> list[BaseRoute]:
    """`POST /v1/videos/{kind}` and `GET /v1/videos/{kind}/{task_id}` for both kinds."""
    style = state.style

    def create(kind: str) -> Handler:
        async def endpoint(request: Request, key: str) -> Response:
            body = await read_json(request)
            callback = body.get("callback_url")
            if callback is not None and not isinstance(callback, str):
                raise InvalidRequest("callback_url must be a URL.", param="callback_url")
            task = _accept(state, key, body, kind)
            if callback:
                base = base_url(request)
                send_when_done(state, task, callback, lambda: _task_data(state, task, base))
            return _answer(
                {
                    "task_id": task.task_id,
                    "task_status": "submitted",
                    "task_info": {},
                    "created_at": int(task.submitted_at * 1000),
                    "updated_at": int(task.submitted_at * 1000),
                }
            )

        return endpoint

    def query(kind: str) -> Handler:
        async def endpoint(request: Request, key: str) -> Response:
            task = state.get(request.path_params["task_id"], key)
            if task is None or task.extra.get("kind") != kind:
                code, message = style.not_found
                return style.response(404, code, message)
            data = _task_data(state, task, base_url(request))
            word = state.faults.take_unknown()
            if word is not None:
                data["task_status"] = word
            return _answer(data)

        return endpoint

    found: list[BaseRoute] = []
    for kind in ("text2video", "image2video"):
        path = f"/v1/videos/{kind}"
        found.append(route(state, ["POST"], path, "submit", create(kind)))
        found.append(route(state, ["GET"], path + "/{task_id}", "query", query(kind)))
    return found
