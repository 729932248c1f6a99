"""Server-sent events: a task's status and progress, or every task of the key, as they happen."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from vidgate.dialects.common import whole_number
from vidgate.dialects.native import render_task
from vidgate.records import Event
from vidgate.server.auth import Caller, services_of
from vidgate.server.openapi import NATIVE, errors, event_stream
from vidgate.service import Services
from vidgate.store import StoreUnavailable

__all__ = ["router"]

router = APIRouter(tags=["events"], responses=errors(NATIVE, 401, 503))
STREAM = event_stream("Server-sent events, with heartbeat comments.")
RESUME = {
    "parameters": [
        {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "last_event_id", "in": "query", "required": False, "schema": {"type": "string"}},
    ]
}
"""Where to resume: the last event id seen (the header wins)."""
RECHECK = 30.0
TERMINAL_TYPES = ("task.completed", "task.failed", "task.cancelled")
RECONNECT_MS = 2000
SHUTTING_DOWN = f"retry: {RECONNECT_MS}\n: the gateway is shutting down; reconnect\n\n"
STORE_AWAY = f"retry: {RECONNECT_MS * 2}\n: the store is unavailable; reconnect\n\n"


def _cursor(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id", "")
    return whole_number(raw) or 0


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


def _stopping(request: Request) -> asyncio.Event:
    runtime = getattr(request.app.state, "runtime", None)
    return runtime.stopping if runtime is not None else asyncio.Event()


async def _stream(
    request: Request, services: Services, owner_id: str, task_id: str | None
) -> AsyncIterator[str]:
    """The frames; a shutdown or a store outage ends the stream with a reconnect hint, and
    the client resumes from its `Last-Event-ID`, here or at another gateway.

    The store is read when a wake-up says something changed, and every `RECHECK` seconds
    besides; a heartbeat alone reads nothing. Each stream's heartbeats and rechecks keep a
    phase of their own, so that streams opened together do not all wake together."""
    cursor = _cursor(request)
    heartbeat = services.settings.sse_heartbeat
    stop = _stopping(request)
    now = time.monotonic()
    last_sent = now - random.uniform(0, heartbeat / 2)
    recheck_at = now
    yield f"retry: {RECONNECT_MS}\n: connected\n\n"
    with services.tasks.watch_events(owner_id, task_id) as changes:
        while True:
            if stop.is_set():
                yield SHUTTING_DOWN
                return
            if time.monotonic() >= recheck_at:
                changes.clear()
                try:
                    found = await services.tasks.events_after(owner_id, cursor, task_id)
                except StoreUnavailable:
                    yield STORE_AWAY
                    return
                for event in found:
                    cursor = event.id
                    try:
                        frame = await _frame(services, owner_id, event)
                    except StoreUnavailable:
                        yield STORE_AWAY
                        return
                    yield frame
                    last_sent = time.monotonic()
                    if task_id is not None and event.type in TERMINAL_TYPES:
                        return
                if found:
                    continue
                recheck_at = time.monotonic() + random.uniform(0.75, 1.0) * RECHECK
            if await request.is_disconnected():
                return
            now = time.monotonic()
            if now - last_sent >= heartbeat:
                yield ": heartbeat\n\n"
                last_sent = now = time.monotonic()
            # A shutdown wakes every listener too (`Runtime.stop_streams`).
            until = min(last_sent + heartbeat, recheck_at) - now
            if await changes.wait(max(until, 0.0)):
                recheck_at = 0.0  # something changed: read the store at once


def _response(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/tasks/{task_id}/events",
    response_class=Response,
    responses=STREAM | errors(NATIVE, 404),
    openapi_extra=RESUME,
)
async def task_events(request: Request, caller: Caller, task_id: str) -> StreamingResponse:
    """The task's events from `Last-Event-ID` on, with heartbeats; ends after the last one."""
    services = services_of(request)
    await services.tasks.get(caller.id, task_id)
    return _response(_stream(request, services, caller.id, task_id))


@router.get("/v1/events", response_class=Response, responses=STREAM, openapi_extra=RESUME)
async def all_events(request: Request, caller: Caller) -> StreamingResponse:
    """Every event of the key's tasks, from `Last-Event-ID` on, with heartbeats."""
    services = services_of(request)
    return _response(_stream(request, services, caller.id, None))
