"""A fake MiniMax video API (Hailuo): `video_generation`, its query and file retrieval, with
every answer HTTP 200 and errors in `base_resp`, as the real one answers. A `callback_url` is
first sent a `{"challenge": …}` that it must echo within 3 s, or the task is refused; the query
answer is then POSTed to it, unsigned, when the task ends."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects.minimax_outbound import CREATE_PATH, FILES_PATH, QUERY_PATH, STATUS
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest
from vidgate.testing.callbacks import send_when_done
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "CHALLENGE_SECONDS", "MODELS", "challenged", "routes"]

API_BASE = ""
"""MiniMax's clients take the bare origin (`https://api.minimax.io`) as base URL."""
MODELS: dict[str, dict[str, tuple[int, ...]]] = {
    "MiniMax-Hailuo-02": {"512P": (6, 10), "768P": (6, 10), "1080P": (6,)},
    "T2V-01": {"720P": (6,)},
    "T2V-01-Director": {"720P": (6,)},
    "I2V-01": {"720P": (6,)},
    "I2V-01-live": {"720P": (6,)},
}
"""Each model's resolutions and the durations each allows."""
IMAGE_ONLY = frozenset({"I2V-01", "I2V-01-live"})
DEFAULT_RESOLUTION = {"MiniMax-Hailuo-02": "768P"}
OK = {"status_code": 0, "status_msg": "success"}
CHALLENGE_SECONDS = 3.0
"""How long a callback URL has to echo its challenge."""


def _new_id() -> str:
    """A MiniMax id: fifteen digits."""
    return str(secrets.randbelow(9 * 10**14) + 10**14)


async def challenged(state: FakeState, url: str) -> bool:
    """Whether `url` answers a fresh `{"challenge": …}` with the same JSON within 3 s."""
    value = secrets.token_urlsafe(16)
    state.counters.record("challenge", f"CHALLENGE {url}")
    try:
        async with httpx.AsyncClient(timeout=CHALLENGE_SECONDS, verify=False) as client:
            answer = await asyncio.wait_for(
                client.post(url, json={"challenge": value}), CHALLENGE_SECONDS
            )
        return answer.status_code == 200 and answer.json() == {"challenge": value}
    except (httpx.HTTPError, ValueError, TimeoutError):
        return False


def _request(state: FakeState, body: dict[str, Any]) -> VideoRequest:
    model = body.get("model")
    if not isinstance(model, str) or model not in MODELS:
        raise InvalidRequest(f"invalid params, model {model!r} is not supported", param="model")
    if state.models is not None and model not in state.models:
        raise InvalidRequest(f"invalid params, model {model} is not available", param="model")
    image = body.get("first_frame_image")
    if model in IMAGE_ONLY and not image:
        raise InvalidRequest("invalid params, first_frame_image is required", param="image")
    resolution = body.get("resolution", DEFAULT_RESOLUTION.get(model, "720P"))
    allowed = MODELS[model]
    if resolution not in allowed or (resolution == "512P" and not image):
        raise InvalidRequest(f"invalid params, resolution {resolution!r}", param="resolution")
    duration = body.get("duration", 6)
    if duration not in allowed[str(resolution)]:
        raise InvalidRequest(f"invalid params, duration {duration!r}", param="duration")
    prompt = body.get("prompt", "")
    if not image and not prompt:
        raise InvalidRequest("invalid params, prompt is required", param="prompt")
    callback = body.get("callback_url")
    if callback is not None and not isinstance(callback, str):
        raise InvalidRequest("invalid params, callback_url", param="callback_url")
    return VideoRequest(
        prompt=str(prompt),
        model=model,
        duration=int(duration),
        resolution=str(resolution),
        img_url=str(image) if image else None,
    )


def routes(state: FakeState) -> list[BaseRoute]:
    """`POST /v1/video_generation`, `GET /v1/query/video_generation`, `GET /v1/files/retrieve`."""
    style = state.style
    files: dict[str, str] = {}

    def missing(what: str) -> Response:
        code, message = style.not_found
        return style.response(404, code, f"{message}: {what}")

    def status_of(task: FakeTask, base: str) -> dict[str, Any]:
        view = state.view(task, base)
        word = STATUS.wire(view.status) if view.status is not Status.CANCELLED else "Fail"
        if (
            view.status is Status.QUEUED
            and state.now() - task.submitted_at < task.queue_seconds / 2
        ):
            word = "Preparing"
        data: dict[str, Any] = {"task_id": task.task_id, "status": word, "file_id": ""}
        if view.status is Status.COMPLETED:
            file_id = task.extra.setdefault("file_id", _new_id())
            files[file_id] = task.task_id
            data.update(file_id=file_id, video_width=task.width, video_height=task.height)
        if view.error is not None:
            code = view.error.code if view.error.code.isdigit() else "1000"
            data["base_resp"] = {"status_code": int(code), "status_msg": view.error.message}
        else:
            data["base_resp"] = OK
        return data

    async def create(request: Request, key: str) -> Response:
        body = await read_json(request)
        video = _request(state, body)
        callback = body.get("callback_url")
        if callback and not await challenged(state, str(callback)):
            raise InvalidRequest(
                "invalid params, callback_url verification failed", param="callback_url"
            )
        task = state.add(_new_id(), key, video, body, default_duration=6)
        if callback:
            base = base_url(request)
            send_when_done(state, task, str(callback), lambda: status_of(task, base))
        return JSONResponse({"task_id": task.task_id, "base_resp": OK})

    async def query(request: Request, key: str) -> Response:
        task = state.get(request.query_params.get("task_id", ""), key)
        if task is None:
            return missing("task_id")
        data = status_of(task, base_url(request))
        unknown = state.faults.take_unknown()
        if unknown is not None:
            data["status"] = unknown
        return JSONResponse(data)

    async def retrieve(request: Request, key: str) -> Response:
        file_id = request.query_params.get("file_id", "")
        task = state.get(files.get(file_id, ""), key)
        if task is None:
            return missing("file_id")
        view = state.view(task, base_url(request))
        if view.result is None:
            return missing("file_id")
        data = {
            "file": {
                "file_id": int(file_id),
                "bytes": 0,
                "created_at": int(task.submitted_at),
                "filename": "output.mp4",
                "purpose": "video_generation",
                "download_url": view.result.video_url,
            },
            "base_resp": OK,
        }
        return JSONResponse(data)

    return [
        route(state, ["POST"], CREATE_PATH, "submit", create),
        route(state, ["GET"], QUERY_PATH, "query", query),
        route(state, ["GET"], FILES_PATH, "content", retrieve),
    ]
