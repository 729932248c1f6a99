"""OpenAI's videos API (`/v1/videos`): the openai SDK works against it unchanged.

Create takes JSON or multipart (an `input_reference` image file is kept as an upload and
makes the task i2v). Reads carry `openai-poll-after-ms` while the video is not finished.
Remix, edit and extend make new videos from one (`openai_derived`); characters are kept as
records. Delete removes a finished video for good and cancels an unfinished one. Every other
path or method under `/v1/videos` answers in OpenAI's error shape.
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from vidgate.dialects import openai
from vidgate.dialects.common import whole_number
from vidgate.errors import InvalidRequest, PayloadTooLarge
from vidgate.models import Task, VideoRequest
from vidgate.records import KeyRecord, TaskQuery
from vidgate.server.auth import Caller, services_of
from vidgate.server.body import read_json
from vidgate.server.content import Variant, content_response, discard_content
from vidgate.server.errors import dialect_route, unknown_routes
from vidgate.server.openapi import (
    OPENAI,
    OpenAICharacterForm,
    OpenAICreate,
    OpenAICreateForm,
    OpenAIDerive,
    OpenAIDeriveForm,
    OpenAIRemix,
    binary,
    errors,
    json_body,
    multipart_body,
)
from vidgate.server.routes.openai_derived import derived_request, read_derivation
from vidgate.server.submit import submit, submit_new
from vidgate.service import Services

__all__ = ["router"]

REFERENCE_PART = "input_reference"
PENDING = "data:,"
"""Where an uploaded reference will be, for checking the request before it is kept."""


def _error(request: Request, status: int, code: str, message: str, param: str | None) -> Response:
    headers = {"x-should-retry": "false"} if status == 409 else None
    body = openai.render_error(status, code, message, openai.wire_param(param))
    return JSONResponse(body, status_code=status, headers=headers)


router = APIRouter(
    prefix="/v1/videos",
    tags=["openai"],
    route_class=dialect_route(_error),
    responses=errors(OPENAI, 401, 503),
)


def video_response(services: Services, task: Task) -> JSONResponse:
    """The video object, with the interval the gateway suggests while it is not finished."""
    headers: dict[str, str] = {}
    if not task.status.terminal:
        hint = services.tasks.poll_hint(task)
        headers["openai-poll-after-ms"] = str(int(hint * 1000))
        headers["Retry-After"] = str(max(1, math.ceil(hint)))
    return JSONResponse(openai.render_task(task), headers=headers)


async def _from_form(
    request: Request, caller: KeyRecord
) -> tuple[VideoRequest, dict[str, Any], str | None]:
    """A multipart create: its fields, and the reference image kept as an upload (its blob
    is the third value), once the request has passed every check it can pass without it."""
    services = services_of(request)
    limit = services.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    size = whole_number(declared)
    if size is not None and size > limit + 64 * 1024:
        raise PayloadTooLarge(f"The upload is larger than {limit} bytes.", param=REFERENCE_PART)
    async with request.form(max_files=1, max_fields=20) as form:
        fields: dict[str, Any] = {}
        reference: dict[str, str] = {}
        upload: UploadFile | None = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != REFERENCE_PART:
                    raise InvalidRequest(f"{name}: unexpected file part.", param=name)
                upload = value
            elif name.startswith(f"{REFERENCE_PART}[") and name.endswith("]"):
                reference[name[len(REFERENCE_PART) + 1 : -1]] = value
            else:
                fields[name] = value
        if reference:
            fields[REFERENCE_PART] = reference
        video = openai.parse_create(fields)
        if upload is None:
            return video, fields, None
        await services.tasks.check(openai.parse_create(fields, input_reference_url=PENDING))
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"The upload is larger than {limit} bytes.", param=REFERENCE_PART)
        saved = await services.files.save_upload(
            caller.id, upload.filename, upload.content_type or "application/octet-stream", data
        )
    fields[REFERENCE_PART] = {"sha256": hashlib.sha256(data).hexdigest()}
    blob = services.blobs.resolve_own_url(saved["url"])
    return openai.parse_create(fields, input_reference_url=saved["url"]), fields, blob


@router.post(
    "",
    responses=errors(OPENAI, 400, 402, 409, 413, 429, 507),
    openapi_extra=json_body(OpenAICreate, **{"multipart/form-data": OpenAICreateForm}),
)
async def create_video(request: Request, caller: Caller) -> JSONResponse:
    """Queue a video from JSON or multipart; answers the queued video object."""
    services = services_of(request)
    upload = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        video, body, upload = await _from_form(request, caller)
    else:
        body = await read_json(request, services.settings.max_body_bytes)
        video = openai.parse_create(body)
    created = False
    try:
        task, created = await submit_new(request, caller, video, body)
    finally:
        # A refused request keeps nothing, not even the reference it uploaded; an idempotent
        # retry keeps only what its first try kept.
        if upload is not None and not created:
            await services.blobs.delete(upload)
    return video_response(services, task)


@router.get("/{video_id}", responses=errors(OPENAI, 404))
async def retrieve_video(request: Request, caller: Caller, video_id: str) -> JSONResponse:
    """The video object: status, progress and times in unix seconds."""
    services = services_of(request)
    return video_response(services, await services.tasks.get(caller.id, video_id))


@router.get(
    "/{video_id}/content",
    response_class=Response,
    responses=binary("video/mp4", "image/webp", "image/jpeg", description="The MP4 or a preview.")
    | errors(OPENAI, 400, 404, 409, 507),
)
async def download_content(
    request: Request, caller: Caller, video_id: str, variant: Variant = "video"
) -> Response:
    """The MP4, or a WebP thumbnail or JPEG spritesheet cut from it."""
    services = services_of(request)
    task = await services.tasks.get(caller.id, video_id)
    return await content_response(services, task, variant, request)


@router.get("", responses=errors(OPENAI, 400))
async def list_videos(
    request: Request,
    caller: Caller,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> JSONResponse:
    """The key's videos by creation time; pass `last_id` as `after` for the next page."""
    query = TaskQuery(after=after, ascending=order == "asc")
    page = await services_of(request).tasks.find(caller.id, query, limit=limit)
    return JSONResponse(openai.render_list(page.tasks, page.has_more))


@router.delete("/{video_id}", responses=errors(OPENAI, 404, 409, 507))
async def delete_video(request: Request, caller: Caller, video_id: str) -> JSONResponse:
    """Cancel an unfinished video (it stays, as failed with code `cancelled`); delete a
    finished one for good: its video, previews and inputs, and the video itself."""
    services = services_of(request)
    task = await services.tasks.get(caller.id, video_id)
    if not task.status.terminal:
        await services.tasks.cancel(caller.id, video_id)
        return JSONResponse(openai.render_deleted(video_id))
    await services.tasks.delete(caller.id, video_id)
    await discard_content(services, task)
    return JSONResponse(openai.render_deleted(video_id))


@router.post(
    "/{video_id}/remix",
    responses=errors(OPENAI, 400, 402, 404, 409, 429, 507),
    openapi_extra=json_body(OpenAIRemix),
)
async def remix_video(request: Request, caller: Caller, video_id: str) -> JSONResponse:
    """A new video from a completed one's request with a new prompt; it names its source in
    `remixed_from_video_id`."""
    services = services_of(request)
    body = await read_json(request, services.settings.max_body_bytes)
    derivation = openai.parse_derivation("remix", body, video_id=video_id)
    video = await derived_request(services, caller.id, derivation)
    task = await submit(request, caller, video, {"remix": video_id, "body": body})
    return video_response(services, task)


async def _derive(request: Request, caller: KeyRecord, kind: openai.DerivationKind) -> Response:
    services = services_of(request)
    derivation, body, uploaded = await read_derivation(request, caller, kind)
    created = False
    try:
        video = await derived_request(services, caller.id, derivation, uploaded)
        task, created = await submit_new(request, caller, video, body)
    finally:
        if uploaded is not None and not created:
            blob = services.blobs.resolve_own_url(uploaded)
            if blob is not None:
                await services.blobs.delete(blob)
    return video_response(services, task)


DERIVE_BODY = json_body(OpenAIDerive, **{"multipart/form-data": OpenAIDeriveForm})


@router.post(
    "/edits", responses=errors(OPENAI, 400, 402, 404, 413, 429, 507), openapi_extra=DERIVE_BODY
)
async def edit_video(request: Request, caller: Caller) -> Response:
    """A new video that edits a completed one (`video: {id}`) or an uploaded `video` file."""
    return await _derive(request, caller, "edit")


@router.post(
    "/extensions",
    responses=errors(OPENAI, 400, 402, 404, 413, 429, 507),
    openapi_extra=DERIVE_BODY,
)
async def extend_video(request: Request, caller: Caller) -> Response:
    """A new video that continues a completed one (or an uploaded `video` file)."""
    return await _derive(request, caller, "extend")


@router.post(
    "/characters",
    responses=errors(OPENAI, 400, 413, 507),
    openapi_extra=multipart_body(OpenAICharacterForm),
)
async def create_character(request: Request, caller: Caller) -> JSONResponse:
    """Keep a named character and its reference video; answers `{id, name, created_at}`."""
    services = services_of(request)
    limit = services.settings.max_upload_bytes
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Send name and video as multipart/form-data.", param="video")
    async with request.form(max_files=1, max_fields=10) as form:
        name, video = form.get("name"), form.get("video")
        if not isinstance(name, str):
            raise InvalidRequest("name is required.", param="name")
        if not isinstance(video, UploadFile):
            raise InvalidRequest("video is required: the character's video file.", param="video")
        data = await video.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"The upload is larger than {limit} bytes.", param="video")
        content_type = video.content_type or "application/octet-stream"
    record = await services.characters.create(caller.id, name, content_type, data)
    return JSONResponse(openai.render_character(record.id, name.strip(), record.created_at))


@router.get("/characters/{character_id}", responses=errors(OPENAI, 404))
async def get_character(request: Request, caller: Caller, character_id: str) -> JSONResponse:
    """A character kept by `POST /v1/videos/characters`."""
    record = await services_of(request).characters.get(caller.id, character_id)
    return JSONResponse(
        openai.render_character(record.id, record.filename or "", record.created_at)
    )


unknown_routes(router)
