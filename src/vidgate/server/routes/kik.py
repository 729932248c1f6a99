"""The kik relay's video API: create, query and cancel under `/video/v1/tasks`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from vidgate.dialects import kik
from vidgate.server.auth import Caller, services_of
from vidgate.server.body import read_json
from vidgate.server.errors import dialect_route, naming
from vidgate.server.openapi import KIK, NativeCreate, errors, json_body
from vidgate.server.submit import submit

__all__ = ["router"]


def _error(request: Request, status: int, code: str, message: str, param: str | None) -> Response:
    return JSONResponse(kik.render_error(code, naming(param, message)), status_code=status)


router = APIRouter(
    prefix="/video/v1/tasks",
    tags=["kik"],
    route_class=dialect_route(_error),
    responses=errors(KIK, 401, 503),
)


@router.post(
    "",
    responses=errors(KIK, 400, 402, 409, 413, 429, 507),
    openapi_extra=json_body(NativeCreate),
)
async def create_task(request: Request, caller: Caller) -> JSONResponse:
    """Queue a task from a flat body (as the native one); answers `{"task_id"}`."""
    body = await read_json(request, services_of(request).settings.max_body_bytes)
    task = await submit(request, caller, kik.parse_create(body), body)
    return JSONResponse(kik.render_created(task))


@router.get("/{task_id}", responses=errors(KIK, 404))
async def get_task(request: Request, caller: Caller, task_id: str) -> JSONResponse:
    """The task with ms timestamps, `data[{url}]` and `error{code, message}`."""
    return JSONResponse(kik.render_task(await services_of(request).tasks.get(caller.id, task_id)))


@router.post("/{task_id}/cancel", responses=errors(KIK, 404, 409, 507))
async def cancel_task(request: Request, caller: Caller, task_id: str) -> JSONResponse:
    """Cancel a pending task (or a running one its provider can stop); quota is refunded."""
    return JSONResponse(
        kik.render_task(await services_of(request).tasks.cancel(caller.id, task_id))
    )
