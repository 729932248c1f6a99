"""For a task's owner: its webhook deliveries with every attempt, and redelivery."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from vidgate.server.auth import Caller, services_of
from vidgate.server.openapi import NATIVE, errors

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])


@router.get("/v1/tasks/{task_id}/deliveries", responses=errors(NATIVE, 401, 404, 503))
async def task_deliveries(request: Request, caller: Caller, task_id: str) -> JSONResponse:
    """Each delivery: event type, URL, status and its attempts (time, HTTP status, error)."""
    data = await services_of(request).tasks.deliveries(caller.id, task_id)
    return JSONResponse({"object": "list", "data": data})


@router.post(
    "/v1/tasks/{task_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    responses=errors(NATIVE, 401, 404, 503),
)
async def redeliver(
    request: Request, caller: Caller, task_id: str, delivery_id: str
) -> JSONResponse:
    """Send a delivery again now, with a fresh retry window; its past attempts are kept."""
    data = await services_of(request).tasks.redeliver(caller.id, task_id, delivery_id)
    return JSONResponse(data, status_code=202)
