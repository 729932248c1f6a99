"""The admin API's routes over every key's tasks, the providers' health and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from vidgate.dialects.common import iso_time
from vidgate.dialects.native import render_task, render_task_page
from vidgate.models import Task
from vidgate.records import TaskFilter, TaskRecord
from vidgate.server.auth import AdminCaller, services_of
from vidgate.server.openapi import NATIVE, errors
from vidgate.service.audit import audit_view
from vidgate.service.tasks import parse_status

__all__ = ["router"]

router = APIRouter()


def _shown(record: TaskRecord, task: Task) -> dict[str, object]:
    return {**render_task(task), "key_id": record.owner_id}


@router.get("/tasks", responses=errors(NATIVE, 400))
async def list_tasks(
    request: Request,
    caller: AdminCaller,
    status: str | None = None,
    key_id: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> JSONResponse:
    """Tasks of every key, newest first, filtered; pass `next_after` as `after` for more."""
    query = TaskFilter(
        owner_id=key_id,
        status=parse_status(status),
        model=model,
        provider=provider,
        created_from=iso_time(created_after, "created_after"),
        created_to=iso_time(created_before, "created_before"),
        after=after,
    )
    page = await services_of(request).admin.find_tasks(query, limit=limit)
    data = [_shown(record, task) for record, task in page.tasks]
    return JSONResponse(render_task_page(data, page.has_more))


@router.post("/tasks/{task_id}/cancel", responses=errors(NATIVE, 404, 409))
async def cancel_task(request: Request, caller: AdminCaller, task_id: str) -> JSONResponse:
    """Cancel any key's queued task (or a running one its provider can stop); its quota is
    refunded to its key."""
    record, task = await services_of(request).admin.cancel(f"key:{caller.id}", task_id)
    return JSONResponse(_shown(record, task))


@router.get("/providers")
async def providers(request: Request, caller: AdminCaller) -> JSONResponse:
    """Each provider's queued and in-flight tasks now, and of the tasks that ended there in
    the last hour how many completed and failed, the error rate and the last error."""
    return JSONResponse({"object": "list", "data": await services_of(request).admin.providers()})


@router.get("/audit", responses=errors(NATIVE, 400))
async def audit_log(
    request: Request,
    caller: AdminCaller,
    target: str | None = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """Admin actions, newest first: who, what, to which key or task, when, before and after.
    `target` narrows to one key or task; `before` (an entry id) pages back."""
    entries = await services_of(request).admin.audit_log(target, before, limit)
    return JSONResponse({"object": "list", "data": [audit_view(e) for e in entries]})
