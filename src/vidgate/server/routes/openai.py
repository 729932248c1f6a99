"""OpenAI's videos API (`/v1/videos`): the openai SDK works against it unchanged.

Create takes JSON or multipart (an `input_reference` image file is kept as an upload and
makes the task i2v). Reads carry `openai-poll-after-ms` while the video is not finished.
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
from vidgate.server.errors import dialect_route
from vidgate.server.openapi import OPENAI, OpenAICreate, OpenAICreateForm, binary, errors, json_body
from vidgate.server.submit import submit_new
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
    responses=errors(OPENAI, 400, 402, 409, 413, 507),
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
            services.blobs.delete(upload)
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
    return await content_response(services, await services.tasks.get(caller.id, video_id), variant)


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
    """Cancel an unfinished video; for a finished one, delete its video and previews."""
    services = services_of(request)
    task = await services.tasks.get(caller.id, video_id)
    if task.status.terminal:
        discard_content(services, task)
    else:
        await services.tasks.cancel(caller.id, video_id)
    return JSONResponse(openai.render_deleted(video_id))
