"""Server-sent events: a task's status and progress, or every task of the key, as they happen."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from vidgate.dialects.native import render_task
from vidgate.server.auth import Caller, gateway_of
from vidgate.service import Gateway
from vidgate.store.store import Row

__all__ = ["router"]

router = APIRouter(tags=["events"])
RECHECK = 30.0
TERMINAL_TYPES = ("task.completed", "task.failed", "task.cancelled")


def _cursor(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id", "")
    return int(raw) if raw.isdigit() else 0


async def _frame(gateway: Gateway, owner_id: str, event: Row) -> str:
    data: dict[str, Any] = {
        "id": event["id"],
        "type": event["type"],
        "task_id": event["task_id"],
        "status": event["status"],
        "progress": event["progress"],
        "created_at": event["created_at"].isoformat() + "Z",
    }
    if event["type"] in TERMINAL_TYPES:
        data["task"] = render_task(await gateway.get(owner_id, event["task_id"]))
    return f"id: {event['id']}\nevent: {event['type']}\ndata: {json.dumps(data)}\n\n"


async def _stream(
    request: Request, gateway: Gateway, owner_id: str, task_id: str | None
) -> AsyncIterator[str]:
    cursor = _cursor(request)
    heartbeat = gateway.settings.sse_heartbeat
    wake = f"task:{task_id}" if task_id else f"owner:{owner_id}"
    last_sent = time.monotonic()
    yield "retry: 2000\n: connected\n\n"
    while True:
        rows = await gateway.store.events_after(owner_id, cursor, task_id)
        for row in rows:
            cursor = row["id"]
            yield await _frame(gateway, owner_id, row)
            last_sent = time.monotonic()
            if task_id is not None and row["type"] in TERMINAL_TYPES:
                return
        if rows:
            continue
        if await request.is_disconnected():
            return
        if time.monotonic() - last_sent >= heartbeat:
            yield ": heartbeat\n\n"
            last_sent = time.monotonic()
        await gateway.notifier.wait(wake, min(RECHECK, heartbeat))


def _response(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/v1/tasks/{task_id}/events")
async def task_events(request: Request, caller: Caller, task_id: str) -> StreamingResponse:
    """The task's events from `Last-Event-ID` on, with heartbeats; ends after the last one."""
    gateway = gateway_of(request)
    await gateway.get(caller["id"], task_id)
    return _response(_stream(request, gateway, caller["id"], task_id))


@router.get("/v1/events")
async def all_events(request: Request, caller: Caller) -> StreamingResponse:
    """Every event of the key's tasks, from `Last-Event-ID` on, with heartbeats."""
    gateway = gateway_of(request)
    return _response(_stream(request, gateway, caller["id"], None))
