"""Queueing a parsed request for any dialect's create route, honouring `Idempotency-Key`."""

from __future__ import annotations

from fastapi import Request

from vidgate.models import Task, VideoRequest
from vidgate.records import KeyRecord
from vidgate.server.auth import services_of
from vidgate.service import request_fingerprint

__all__ = ["submit", "submit_new"]


async def submit(request: Request, caller: KeyRecord, video: VideoRequest, body: object) -> Task:
    """Queue ``video``; a retry with the same `Idempotency-Key` and body returns the same task."""
    task, _ = await submit_new(request, caller, video, body)
    return task


async def submit_new(
    request: Request, caller: KeyRecord, video: VideoRequest, body: object
) -> tuple[Task, bool]:
    """As `submit`, and whether the task is new (not an idempotent retry's earlier one)."""
    key = request.headers.get("idempotency-key")
    return await services_of(request).tasks.submit(
        caller.id,
        video,
        idempotency_key=key,
        fingerprint=request_fingerprint(body) if key else None,
    )
