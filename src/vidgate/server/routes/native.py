"""The WaveAPI-style native task API: create, read, long-poll, sync wait, cancel and list."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.responses import JSONResponse
from starlette.routing import Route

from vidgate.dialects.common import iso_time
from vidgate.dialects.native import parse_create, render_task, render_task_page
from vidgate.errors import InvalidRequest
from vidgate.models import Task
from vidgate.records import KeyRecord, TaskQuery
from vidgate.server.auth import Caller, caller_of, services_of
from vidgate.server.body import read_json
from vidgate.server.openapi import NATIVE, NativeCreate, NativeSyncCreate, errors, json_body
from vidgate.service import Services, request_fingerprint
from vidgate.service.tasks import parse_status

__all__ = ["create_route", "router", "task_route"]

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=errors(NATIVE, 401, 503))
CREATE_ERRORS = errors(NATIVE, 400, 402, 409, 413, 429, 507)
SYNC_RESPONSES = {
    **CREATE_ERRORS,
    202: {"description": "Not finished in time: the task id and its poll_url."},
}
MAX_LONG_POLL = 120.0
MAX_SYNC_WAIT = 300.0


def task_response(services: Services, task: Task, status_code: int = 200) -> JSONResponse:
    """The task JSON, with the suggested poll interval while it is not finished."""
    headers: dict[str, str] = {}
    if not task.status.terminal:
        hint = services.tasks.poll_hint(task)
        headers["Retry-After"] = str(max(1, math.ceil(hint)))
        headers["openai-poll-after-ms"] = str(int(hint * 1000))
    return JSONResponse(render_task(task), status_code=status_code, headers=headers)


async def _submit(services: Services, request: Request, caller: Caller, body: object) -> Task:
    video = parse_create(body)
    key = request.headers.get("idempotency-key")
    task, _ = await services.tasks.submit(
        caller.id,
        video,
        idempotency_key=key,
        fingerprint=request_fingerprint(body) if key else None,
    )
    return task


async def _create(request: Request, caller: KeyRecord) -> JSONResponse:
    services = services_of(request)
    body = await read_json(request, services.settings.max_body_bytes)
    return task_response(services, await _submit(services, request, caller, body), 202)


@router.post("", status_code=202, responses=CREATE_ERRORS, openapi_extra=json_body(NativeCreate))
async def create_task(request: Request, caller: Caller) -> JSONResponse:
    """Queue a generation task and return it at once."""
    return await _create(request, caller)


async def submit_task(request: Request) -> JSONResponse:
    """`POST /v1/tasks`, as `create_task` documents it, served as a plain Starlette endpoint:
    the same checks, without FastAPI's per-request routing and dependency resolution."""
    return await _create(request, await caller_of(request))


create_route = Route("/v1/tasks", submit_task, methods=["POST"], name="submit_task")


def _sync_timeout(body: object) -> float:
    timeout = body.pop("timeout", 60.0) if isinstance(body, dict) else 60.0
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 <= timeout <= MAX_SYNC_WAIT
    ):
        raise InvalidRequest(
            f"timeout must be a number of seconds within 0-{MAX_SYNC_WAIT:.0f}.", param="timeout"
        )
    return float(timeout)


@router.post(
    "/sync",
    responses=SYNC_RESPONSES,
    openapi_extra=json_body(NativeSyncCreate),
)
async def create_task_sync(request: Request, caller: Caller) -> JSONResponse:
    """Queue a task and wait for it: 200 with the finished task, or 202 with a poll_url."""
    services = services_of(request)
    body = await read_json(request, services.settings.max_body_bytes)
    timeout = _sync_timeout(body)
    task = await _submit(services, request, caller, body)
    task = await services.tasks.wait_until_done(caller.id, task.task_id, timeout)
    if task.status.terminal:
        return task_response(services, task)
    poll_url = str(request.url_for("get_task", task_id=task.task_id))
    hint = services.tasks.poll_hint(task)
    return JSONResponse(
        {"task_id": task.task_id, "status": task.status.value, "poll_url": poll_url},
        status_code=202,
        headers={"Retry-After": str(max(1, math.ceil(hint))), "Location": poll_url},
    )


def _wait_seconds(raw: str | None) -> float:
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_LONG_POLL:
        raise InvalidRequest(
            f"wait must be a number of seconds within 0-{MAX_LONG_POLL:.0f}.", param="wait"
        )
    return seconds


async def get_task(request: Request) -> JSONResponse:
    """`GET /v1/tasks/{task_id}[?wait=N]`: the task, held up to N s until it changes or ends.

    Clients poll this route more than any other, so it is a plain Starlette endpoint: the
    same checks as the others, without FastAPI's per-request dependency resolution.
    """
    services = services_of(request)
    caller = await caller_of(request)
    task_id = request.path_params["task_id"]
    wait = _wait_seconds(request.query_params.get("wait"))
    if wait > 0:
        task = await services.tasks.wait(caller.id, task_id, wait)
    else:
        task = await services.tasks.get(caller.id, task_id)
    return task_response(services, task)


task_route = Route("/v1/tasks/{task_id}", get_task, methods=["GET"], name="get_task")


@router.post("/{task_id}/cancel", responses=errors(NATIVE, 404, 409, 507))
async def cancel_task(request: Request, caller: Caller, task_id: str) -> JSONResponse:
    """Cancel a queued task (or a running one its provider can stop); quota is refunded."""
    services = services_of(request)
    return task_response(services, await services.tasks.cancel(caller.id, task_id))


@router.get("/{task_id}/request", responses=errors(NATIVE, 404))
async def task_request(request: Request, caller: Caller, task_id: str) -> JSONResponse:
    """The request as accepted: parameters, seed, and signed URLs of the stored inputs."""
    return JSONResponse(await services_of(request).tasks.request_of(caller.id, task_id))


@router.get("", responses=errors(NATIVE, 400))
async def list_tasks(
    request: Request,
    caller: Caller,
    status: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> Response:
    """The caller's tasks, newest first; pass the last id as `after` for the next page.
    `last_event_id` resumes `GET /v1/events` from the moment the page was read."""
    query = TaskQuery(
        status=parse_status(status),
        model=model,
        provider=provider,
        created_from=iso_time(created_after, "created_after"),
        created_to=iso_time(created_before, "created_before"),
        after=after,
    )
    page = await services_of(request).tasks.find(caller.id, query, limit=limit)
    data = [render_task(t) for t in page.tasks]
    return JSONResponse(
        render_task_page(data, page.has_more, last_event_id=str(page.last_event_id))
    )
