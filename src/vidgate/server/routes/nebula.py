"""The nebula relay's video API: create, query and download the video."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from vidgate.dialects import nebula
from vidgate.server.auth import Caller, services_of
from vidgate.server.body import read_json
from vidgate.server.content import content_response
from vidgate.server.errors import dialect_route, naming
from vidgate.server.openapi import NEBULA, NativeCreate, binary, errors, json_body
from vidgate.server.submit import submit

__all__ = ["router"]


def _error(request: Request, status: int, code: str, message: str, param: str | None) -> Response:
    return JSONResponse(nebula.render_error(code, naming(param, message)), status_code=status)


router = APIRouter(
    prefix="/v1/video/generations",
    tags=["nebula"],
    route_class=dialect_route(_error),
    responses=errors(NEBULA, 401, 503),
)


@router.post(
    "",
    responses=errors(NEBULA, 400, 402, 409, 413, 429, 507),
    openapi_extra=json_body(NativeCreate),
)
async def create_task(request: Request, caller: Caller) -> JSONResponse:
    """Queue a task from a flat body (as the native one); answers the queued task."""
    body = await read_json(request, services_of(request).settings.max_body_bytes)
    task = await submit(request, caller, nebula.parse_create(body), body)
    return JSONResponse(nebula.render_task(task))


@router.get("/{task_id}", responses=errors(NEBULA, 404))
async def get_task(request: Request, caller: Caller, task_id: str) -> JSONResponse:
    """The task: `status`, `format`, and `url` once it succeeds or `error` once it fails."""
    return JSONResponse(
        nebula.render_task(await services_of(request).tasks.get(caller.id, task_id))
    )


@router.get(
    "/{task_id}/content",
    response_class=Response,
    responses=binary("video/mp4", description="The video.") | errors(NEBULA, 404, 409),
)
async def get_content(request: Request, caller: Caller, task_id: str) -> Response:
    """The finished video itself (the download call the nebula relay format names for Sora 2)."""
    services = services_of(request)
    task = await services.tasks.get(caller.id, task_id)
    return await content_response(services, task, "video", request)
