"""DashScope's task API (seeds 000 and 001): video synthesis, task query, cancel and list.

Point the dashscope SDK at `{gateway}/api/v1` and it works unchanged. An id the caller does
not own reads as `UNKNOWN`, as DashScope answers for ids it does not know.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from vidgate.dialects import dashscope, dashscope_list
from vidgate.errors import InvalidRequest, NotFound
from vidgate.models import Status
from vidgate.records import TaskQuery
from vidgate.server.auth import Caller, services_of
from vidgate.server.body import read_json
from vidgate.server.openapi import DASHSCOPE, IDEMPOTENCY, DashScopeCreate, errors, json_body
from vidgate.server.routes import dashscope_uploads
from vidgate.server.routes.dashscope_wire import ROUTE_CLASS, error_response, request_id_of
from vidgate.server.submit import submit

__all__ = ["router"]

SYNC_REFUSED = "current user api does not support synchronous calls"
MAX_PAGE_NO = 1_000_000
ASYNC_HEADER = {
    "name": "X-DashScope-Async",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "enum": ["enable"]},
    "description": "Only asynchronous calls are served; without it the answer is 403.",
}


tasks = APIRouter(
    prefix="/api/v1",
    tags=["dashscope"],
    route_class=ROUTE_CLASS,
    responses=errors(DASHSCOPE, 401, 503),
)
CREATE_ERRORS = errors(DASHSCOPE, 400, 403, 404, 409, 413, 429, 507)
RESOLVE_HEADER = {
    "name": dashscope_uploads.RESOLVE_HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["enable"]},
    "description": "Needed when an input is an oss:// URL from `GET /api/v1/uploads`.",
}
CREATE_BODY = json_body(DashScopeCreate) | {
    "parameters": [IDEMPOTENCY, ASYNC_HEADER, RESOLVE_HEADER]
}


async def _create(request: Request, caller: Caller) -> Response:
    if request.headers.get("x-dashscope-async", "").lower() != "enable":
        return error_response(request, 403, "access_denied", SYNC_REFUSED, None)
    services = services_of(request)
    body = await read_json(request, services.settings.max_body_bytes)
    resolved = await dashscope_uploads.resolve_oss_urls(request, caller.id, body)
    task = await submit(request, caller, dashscope.parse_create(resolved), body)
    return JSONResponse(dashscope.render_created(task, request_id_of(request)))


@tasks.post(
    "/services/aigc/video-generation/video-synthesis",
    responses=CREATE_ERRORS,
    openapi_extra=CREATE_BODY,
)
async def video_synthesis(request: Request, caller: Caller) -> Response:
    """Create a t2v, i2v, r2v or vace task; needs `X-DashScope-Async: enable`."""
    return await _create(request, caller)


@tasks.post(
    "/services/aigc/image2video/video-synthesis", responses=CREATE_ERRORS, openapi_extra=CREATE_BODY
)
async def image2video(request: Request, caller: Caller) -> Response:
    """Create a kf2v task (any mode is accepted); needs `X-DashScope-Async: enable`."""
    return await _create(request, caller)


@tasks.get("/tasks/{task_id}")
async def get_task(request: Request, caller: Caller, task_id: str) -> JSONResponse:
    """The task as the DashScope task API shows it; `UNKNOWN` for an id this key does not own."""
    services = services_of(request)
    request_id = request_id_of(request)
    try:
        task = await services.tasks.get(caller.id, task_id)
    except NotFound:
        return JSONResponse(dashscope.render_unknown(task_id, request_id))
    return JSONResponse(dashscope.render_task(task, request_id))


@tasks.post("/tasks/{task_id}/cancel", responses=errors(DASHSCOPE, 400, 404, 507))
async def cancel_task(request: Request, caller: Caller, task_id: str) -> JSONResponse:
    """Cancel a PENDING task; any other status answers 400 UnsupportedOperation."""
    services = services_of(request)
    task = await services.tasks.get(caller.id, task_id)
    if task.status is not Status.QUEUED:
        word = dashscope.STATUS.wire(task.status)
        raise InvalidRequest(
            f"Task {task_id} is {word}; only PENDING tasks can be canceled.",
            code="task_not_cancellable",
        )
    await services.tasks.cancel(caller.id, task_id)
    return JSONResponse({"request_id": request_id_of(request)})


@tasks.get("/tasks", responses=errors(DASHSCOPE, 400))
async def list_tasks(
    request: Request,
    caller: Caller,
    task_id: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    model_name: str | None = None,
    status: str | None = None,
    page_no: Annotated[int, Query(ge=1, le=MAX_PAGE_NO)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> JSONResponse:
    """The key's tasks, newest first, filtered and paged as DashScope documents."""
    canonical = None
    if status is not None:
        canonical = dashscope.STATUS.canonical(status.upper())
        if canonical is None:
            words = ", ".join(dashscope.STATUS.to_wire.values())
            raise InvalidRequest(f"status must be one of {words}.", param="status")
    query = TaskQuery(
        status=canonical,
        model=model_name,
        task_id=task_id,
        created_from=dashscope_list.parse_list_time(start_time, "start_time")
        if start_time
        else None,
        created_to=dashscope_list.parse_list_time(end_time, "end_time") if end_time else None,
    )
    services = services_of(request)
    total = await services.tasks.count(caller.id, query)
    offset = (page_no - 1) * page_size
    page = await services.tasks.find(caller.id, query, limit=page_size, offset=offset)
    return JSONResponse(
        dashscope_list.render_list(
            page.tasks,
            total=total,
            page_no=page_no,
            page_size=page_size,
            request_id=request_id_of(request),
            api_key_id=caller.id,
        )
    )


router = APIRouter()
"""The task routes and the upload routes, which answer no 401: a policy authorizes a form."""
router.include_router(tasks)
router.include_router(dashscope_uploads.router)
