"""A task's webhook deliveries, with every attempt, for its owner."""

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
