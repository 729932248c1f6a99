"""Queueing a parsed request for any dialect's create route, honouring `Idempotency-Key`."""

from __future__ import annotations

from fastapi import Request

from vidgate.models import Task, VideoRequest
from vidgate.records import KeyRecord
from vidgate.server.auth import services_of
from vidgate.service import request_fingerprint

__all__ = ["submit"]


async def submit(request: Request, caller: KeyRecord, video: VideoRequest, body: object) -> Task:
    """Queue ``video``; a retry with the same `Idempotency-Key` and body returns the same task."""
    key = request.headers.get("idempotency-key")
    task, _ = await services_of(request).tasks.submit(
        caller.id,
        video,
        idempotency_key=key,
        fingerprint=request_fingerprint(body) if key else None,
    )
    return task
