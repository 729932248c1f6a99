"""Server-sent events: a task's status and progress, or every task of the key, as they happen."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from vidgate.dialects.native import render_task
from vidgate.records import Event
from vidgate.server.auth import Caller, services_of
from vidgate.service import Services

__all__ = ["router"]

router = APIRouter(tags=["events"])
RECHECK = 30.0
TERMINAL_TYPES = ("task.completed", "task.failed", "task.cancelled")


def _cursor(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id", "")
    return int(raw) if raw.isdigit() else 0


async def _frame(services: Services, owner_id: str, event: Event) -> str:
    data: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "task_id": event.task_id,
        "status": event.status.value,
        "progress": event.progress,
        "created_at": event.created_at.isoformat() + "Z",
    }
    if event.type in TERMINAL_TYPES:
        data["task"] = render_task(await services.tasks.event_task(owner_id, event))
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(data)}\n\n"


async def _stream(
    request: Request, services: Services, owner_id: str, task_id: str | None
) -> AsyncIterator[str]:
    cursor = _cursor(request)
    heartbeat = services.settings.sse_heartbeat
    last_sent = time.monotonic()
    yield "retry: 2000\n: connected\n\n"
    while True:
        found = await services.tasks.events_after(owner_id, cursor, task_id)
        for event in found:
            cursor = event.id
            yield await _frame(services, owner_id, event)
            last_sent = time.monotonic()
            if task_id is not None and event.type in TERMINAL_TYPES:
                return
        if found:
            continue
        if await request.is_disconnected():
            return
        if time.monotonic() - last_sent >= heartbeat:
            yield ": heartbeat\n\n"
            last_sent = time.monotonic()
        await services.tasks.wait_for_events(owner_id, task_id, min(RECHECK, heartbeat))


def _response(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/v1/tasks/{task_id}/events")
async def task_events(request: Request, caller: Caller, task_id: str) -> StreamingResponse:
    """The task's events from `Last-Event-ID` on, with heartbeats; ends after the last one."""
    services = services_of(request)
    await services.tasks.get(caller.id, task_id)
    return _response(_stream(request, services, caller.id, task_id))


@router.get("/v1/events")
async def all_events(request: Request, caller: Caller) -> StreamingResponse:
    """Every event of the key's tasks, from `Last-Event-ID` on, with heartbeats."""
    services = services_of(request)
    return _response(_stream(request, services, caller.id, None))
