"""A fake Gemini API for Veo: `models/{model}:predictLongRunning`, the operation it names, and
the generated file's download (a redirect to a signed link), all behind `x-goog-api-key`."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects.veo_outbound import FILTERED, RPC_CODES
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "MODELS", "RESPONSE_TYPE", "routes"]

API_BASE = ""
"""The Gemini SDK's base URL is the bare origin; it adds `/v1beta` itself."""
VEO_3 = {"720p": (4, 6, 8), "1080p": (8,)}
MODELS: dict[str, dict[str, tuple[int, ...]]] = {
    "veo-3.1-generate-preview": VEO_3,
    "veo-3.1-fast-generate-preview": VEO_3,
    "veo-3.0-generate-001": VEO_3,
    "veo-3.0-fast-generate-001": VEO_3,
    "veo-2.0-generate-001": {"720p": (5, 6, 7, 8)},
}
"""Each model's resolutions and the `durationSeconds` each allows."""
RATIOS = ("16:9", "9:16")
RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"


def _image(instance: dict[str, Any]) -> str | None:
    image = instance.get("image")
    if image is None:
        return None
    data = image.get("bytesBase64Encoded") if isinstance(image, dict) else None
    kind = image.get("mimeType") if isinstance(image, dict) else None
    if not isinstance(data, str) or not isinstance(kind, str) or not kind.startswith("image/"):
        raise InvalidRequest("image needs bytesBase64Encoded and an image mimeType.")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("image.bytesBase64Encoded is not base64.") from None
    return f"data:{kind};base64,..."


def _accept(state: FakeState, key: str, model: str, body: dict[str, Any]) -> FakeTask:
    if model not in MODELS or (state.models is not None and model not in state.models):
        raise InvalidRequest(
            f"models/{model} is not found for API version v1beta.", code="model_not_found"
        )
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        raise InvalidRequest("instances must hold exactly one instance.")
    instance = instances[0]
    prompt = instance.get("prompt")
    image = _image(instance)
    if not image and not (isinstance(prompt, str) and prompt):
        raise InvalidRequest("A prompt or an image is required.")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidRequest("parameters must be an object.")
    resolution = parameters.get("resolution", "720p")
    if resolution not in MODELS[model]:
        raise InvalidRequest(f"resolution {resolution!r} is not supported by {model}.")
    ratio = parameters.get("aspectRatio", "16:9")
    if ratio not in RATIOS:
        raise InvalidRequest(f"aspectRatio {ratio!r} is not supported.")
    duration = parameters.get("durationSeconds", 8)
    if duration not in MODELS[model][str(resolution)]:
        raise InvalidRequest(f"durationSeconds {duration!r} is not supported at {resolution}.")
    request = VideoRequest(
        prompt=prompt if isinstance(prompt, str) else "",
        model=model,
        duration=int(duration),
        resolution=str(resolution).upper(),
        ratio=str(ratio),
        img_url=image,
    )
    return state.add(uuid.uuid4().hex[:12], key, request, body, default_duration=8)


def routes(state: FakeState) -> list[BaseRoute]:
    """`POST …:predictLongRunning`, `GET /v1beta/models/{model}/operations/{id}` and
    `GET /v1beta/files/{id}:download`."""
    style = state.style

    def missing() -> Response:
        code, message = style.not_found
        return style.response(404, code, message)

    def name_of(task: FakeTask) -> str:
        return f"models/{task.model}/operations/{task.task_id}"

    async def create(request: Request, key: str) -> Response:
        body = await read_json(request)
        task = _accept(state, key, request.path_params["model"], body)
        return JSONResponse({"name": name_of(task)})

    async def operation(request: Request, key: str) -> Response:
        task = state.get(request.path_params["operation"], key)
        if task is None or task.model != request.path_params["model"]:
            return missing()
        view = state.view(task, base_url(request))
        data: dict[str, Any] = {"name": name_of(task)}
        word = state.faults.take_unknown()
        if word is not None:
            data["metadata"] = {"state": word}
        elif view.status is Status.COMPLETED:
            uri = f"{base_url(request)}/v1beta/files/{task.task_id}:download?alt=media"
            samples = [{"video": {"uri": uri}}]
            data.update(
                done=True,
                response={
                    "@type": RESPONSE_TYPE,
                    "generateVideoResponse": {"generatedSamples": samples},
                },
            )
        elif view.error is not None and view.error.code == FILTERED:
            filtered = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [view.error.message]}
            data.update(
                done=True, response={"@type": RESPONSE_TYPE, "generateVideoResponse": filtered}
            )
        elif view.error is not None:
            code = RPC_CODES.get(view.error.code, 13)
            data.update(done=True, error={"code": code, "message": view.error.message})
        return JSONResponse(data)

    async def download(request: Request, key: str) -> Response:
        task = state.get(request.path_params["file"], key)
        if task is None or request.query_params.get("alt") != "media":
            return missing()
        problem = state.download_problem(task)
        view = state.view(task, base_url(request))
        if problem is not None or view.result is None:
            return missing()
        return RedirectResponse(view.result.video_url, status_code=302)

    return [
        route(state, ["POST"], "/v1beta/models/{model}:predictLongRunning", "submit", create),
        route(state, ["GET"], "/v1beta/models/{model}/operations/{operation}", "query", operation),
        route(state, ["GET"], "/v1beta/files/{file}:download", "content", download),
    ]
