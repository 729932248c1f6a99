"""A fake OpenAI videos API (`/v1/videos`): create, retrieve, list, delete, download, remix,
edit, extend, and characters (kept, never drawn)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects import openai
from vidgate.errors import InvalidRequest
from vidgate.models import Status
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.media import sample_image
from vidgate.testing.results import serve_bytes
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "EXTENSION_SECONDS", "SECONDS", "SIZES", "VARIANTS", "routes"]

API_BASE = "/v1"
"""The path an OpenAI client's base URL ends in."""
SECONDS = ("4", "8", "12")
EXTENSION_SECONDS = ("4", "8", "12", "16", "20")
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}


def _choices(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _invalid_value(name: str, value: object, allowed: tuple[str, ...]) -> InvalidRequest:
    message = f"Invalid value: '{value}'. Supported values are: {_choices(allowed)}."
    return InvalidRequest(message, param=name, code="invalid_value")


def poll_after_ms(task: FakeTask, now: float) -> int:
    """The `openai-poll-after-ms` hint: time to the end, within 0.1-5 s."""
    remaining = task.end_at()[0] - now
    return int(min(5.0, max(0.1, remaining)) * 1000)


async def _create_body(request: Request) -> tuple[dict[str, Any], str | None]:
    """The create fields, and a stand-in URL for an uploaded `input_reference` file."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await read_json(request), None
    async with request.form() as form:
        fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get("input_reference")
        if not isinstance(upload, UploadFile):
            return fields, None
        data = await upload.read()
        fields["input_reference"] = {
            "filename": upload.filename,
            "content_type": upload.content_type,
            "bytes": len(data),
        }
        return fields, f"upload://{upload.filename or 'input_reference'}"


async def _form_or_json(request: Request) -> dict[str, Any]:
    """A body as JSON, or as form fields (`video[id]` read as `{"video": {"id"}}`, an uploaded
    `video` file as its name and size)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await read_json(request)
    async with request.form() as form:
        fields: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                fields[name] = {"filename": value.filename, "bytes": len(await value.read())}
            elif name.endswith("[id]"):
                fields[name[: -len("[id]")]] = {"id": value}
            else:
                fields[name] = value
        return fields


def routes(state: FakeState) -> list[BaseRoute]:
    """The `/v1/videos` routes of the OpenAI API."""
    style = state.style

    def render(task: FakeTask, request: Request) -> dict[str, Any]:
        data = openai.render_task(state.view(task, base_url(request)))
        data["remixed_from_video_id"] = task.extra.get("remixed_from_video_id")
        return data

    def missing(video_id: str) -> Response:
        code = style.not_found[0]
        return style.response(404, code, f"Video with id '{video_id}' not found.", param="id")

    def accept(key: str, fields: dict[str, Any], reference: str | None) -> FakeTask:
        plain = {k: v for k, v in fields.items() if k != "input_reference" or reference is None}
        seconds = str(plain.setdefault("seconds", "4"))
        size = str(plain.setdefault("size", "720x1280"))
        model = str(plain.setdefault("model", "sora-2"))
        if seconds not in SECONDS:
            raise _invalid_value("seconds", seconds, SECONDS)
        if size not in SIZES:
            raise _invalid_value("size", size, SIZES)
        if state.models is not None and model not in state.models:
            raise _invalid_value("model", model, tuple(sorted(state.models)))
        video = openai.parse_create(plain, input_reference_url=reference)
        task_id = f"video_{uuid.uuid4().hex}"
        return state.add(task_id, key, video, fields, default_duration=4)

    async def create(request: Request, key: str) -> Response:
        fields, reference = await _create_body(request)
        return JSONResponse(render(accept(key, fields, reference), request))

    async def remix(request: Request, key: str) -> Response:
        source = state.get(request.path_params["video_id"], key)
        if source is None:
            return missing(request.path_params["video_id"])
        if source.status(state.now()) is not Status.COMPLETED:
            raise InvalidRequest("Only completed videos can be remixed.", param="video_id")
        body = await read_json(request)
        fields = {
            "model": source.model,
            "prompt": body.get("prompt", ""),
            "seconds": str(source.duration),
            "size": f"{source.width}x{source.height}",
        }
        task = accept(key, fields, None)
        task.extra["remixed_from_video_id"] = source.task_id
        return JSONResponse(render(task, request))

    def derive(key: str, source: FakeTask, prompt: object, seconds: int) -> FakeTask:
        fields = {
            "model": source.model,
            "prompt": prompt if isinstance(prompt, str) else "",
            "seconds": str(seconds),
            "size": f"{source.width}x{source.height}",
        }
        video = openai.parse_create(fields)
        return state.add(f"video_{uuid.uuid4().hex}", key, video, fields, default_duration=4)

    def completed_source(body: dict[str, Any], key: str) -> FakeTask | Response:
        reference = body.get("video")
        if not isinstance(reference, dict) or not isinstance(reference.get("id"), str):
            raise InvalidRequest("video must be {id} of a completed video.", param="video")
        source = state.get(reference["id"], key)
        if source is None:
            return missing(reference["id"])
        if source.status(state.now()) is not Status.COMPLETED:
            raise InvalidRequest("Only completed videos can be used.", param="video")
        return source

    async def edit(request: Request, key: str) -> Response:
        body = await _form_or_json(request)
        source = completed_source(body, key)
        if isinstance(source, Response):
            return source
        task = derive(key, source, body.get("prompt"), source.duration)
        task.extra["edited_from_video_id"] = source.task_id
        return JSONResponse(render(task, request))

    async def extend(request: Request, key: str) -> Response:
        body = await _form_or_json(request)
        source = completed_source(body, key)
        if isinstance(source, Response):
            return source
        seconds = str(body.get("seconds", ""))
        if seconds not in EXTENSION_SECONDS:
            raise _invalid_value("seconds", seconds, EXTENSION_SECONDS)
        task = derive(key, source, body.get("prompt"), source.duration + int(seconds))
        task.extra["extended_from_video_id"] = source.task_id
        return JSONResponse(render(task, request))

    characters: dict[str, dict[str, Any]] = {}

    async def create_character(request: Request, key: str) -> Response:
        body = await _form_or_json(request)
        name = body.get("name")
        if not isinstance(name, str) or not isinstance(body.get("video"), dict):
            raise InvalidRequest("name and a video file are required.", param="video")
        character_id = f"char_{uuid.uuid4().hex}"
        character = {"id": character_id, "name": name, "created_at": int(time.time())}
        characters[character_id] = {**character, "owner": key}
        return JSONResponse(character)

    async def get_character(request: Request, key: str) -> Response:
        found = characters.get(request.path_params["character_id"])
        if found is None or found["owner"] != key:
            return style.response(404, style.not_found[0], "Character not found.", param="id")
        return JSONResponse({k: v for k, v in found.items() if k != "owner"})

    async def retrieve(request: Request, key: str) -> Response:
        task = state.get(request.path_params["video_id"], key)
        if task is None:
            return missing(request.path_params["video_id"])
        data = render(task, request)
        word = state.faults.take_unknown()
        if word is not None:
            data["status"] = word
        now = state.now()
        headers = {}
        if not task.status(now).terminal:
            headers["openai-poll-after-ms"] = str(poll_after_ms(task, now))
        return JSONResponse(data, headers=headers)

    async def content(request: Request, key: str) -> Response:
        task = state.get(request.path_params["video_id"], key)
        if task is None:
            return missing(request.path_params["video_id"])
        variant = request.query_params.get("variant", "video")
        if variant not in VARIANTS:
            raise _invalid_value("variant", variant, tuple(VARIANTS))
        problem = state.download_problem(task)
        if problem is not None:
            message = "is not ready yet" if problem == "not_ready" else "has expired"
            return style.response(404, style.not_found[0], f"Video content {message}.")
        if variant == "video":
            data = await state.video_for(task)
        else:
            data = sample_image(fmt="WEBP" if variant == "thumbnail" else "JPEG")
        return serve_bytes(request, data, VARIANTS[variant])

    async def delete(request: Request, key: str) -> Response:
        video_id = request.path_params["video_id"]
        if state.get(video_id, key) is None:
            return missing(video_id)
        state.remove(video_id)
        return JSONResponse(openai.render_deleted(video_id))

    async def listing(request: Request, key: str) -> Response:
        params = request.query_params
        limit = params.get("limit", "20")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise InvalidRequest("limit must be within 1-100.", param="limit")
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _invalid_value("order", order, ("asc", "desc"))
        tasks = state.tasks(key)
        if order == "asc":
            tasks.reverse()
        after = params.get("after")
        if after is not None:
            ids = [t.task_id for t in tasks]
            tasks = tasks[ids.index(after) + 1 :] if after in ids else []
        page = tasks[: int(limit)]
        views = [state.view(task, base_url(request)) for task in page]
        data = openai.render_list(views, has_more=len(tasks) > len(page))
        for item, task in zip(data["data"], page, strict=True):
            item["remixed_from_video_id"] = task.extra.get("remixed_from_video_id")
        return JSONResponse(data)

    videos = f"{API_BASE}/videos"
    one = videos + "/{video_id}"
    return [
        route(state, ["POST"], videos, "submit", create),
        route(state, ["GET"], videos, "list", listing),
        route(state, ["GET"], one, "query", retrieve),
        route(state, ["DELETE"], one, "delete", delete),
        route(state, ["GET"], one + "/content", "content", content),
        route(state, ["POST"], one + "/remix", "submit", remix),
        route(state, ["POST"], videos + "/edits", "submit", edit),
        route(state, ["POST"], videos + "/extensions", "submit", extend),
        route(state, ["POST"], videos + "/characters", "character", create_character),
        route(state, ["GET"], videos + "/characters/{character_id}", "character", get_character),
    ]
