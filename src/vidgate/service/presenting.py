"""Records as the API shows them: tasks with freshly signed result URLs, deliveries, uploads.

This is the only place that signs blob URLs.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from vidgate.blobs import BlobStore, SignedUrl
from vidgate.clock import aware, iso
from vidgate.dialects.native import render_task
from vidgate.errors import public_message
from vidgate.models import Result, Status, Task, TaskError
from vidgate.records import Delivery, FileRecord, MediaKind, TaskRecord, TaskState

__all__ = ["Presenter"]

MAX_SIGNING_BUCKET = 3600


class Presenter:
    """Turns records into the canonical API objects, signing URLs valid for ``url_ttl`` s."""

    def __init__(self, blobs: BlobStore, url_ttl: int) -> None:
        self.blobs = blobs
        self.url_ttl = url_ttl

    def sign(self, blob: str) -> SignedUrl:
        """A signed URL for a blob, valid at least ``url_ttl`` s from now.

        URLs signed within one short window are identical, so clients and caches see one URL
        per task rather than a new one per read; the window rounds up, never cutting the TTL.
        """
        return self.blobs.sign(blob, self.url_ttl, now=self.signing_window())

    def signing_window(self) -> int:
        """The start of the window URLs signed now are signed for: one URL per window."""
        bucket = max(1, min(MAX_SIGNING_BUCKET, self.url_ttl // 24))
        return math.ceil(self.blobs.clock() / bucket) * bucket

    def public_url(self, blob: str) -> str:
        return self.sign(blob).url

    def task(self, record: TaskRecord, state: TaskState | None = None) -> Task:
        """The record as the canonical task; with ``state``, as it was in that state."""
        if state is not None:
            record = record.at(state)
        result = None
        if record.result is not None:
            stored = record.result
            signed = self.sign(stored.blob)
            result = Result(
                video_url=signed.url,
                expires_at=datetime.fromtimestamp(signed.expires_at, UTC),
                duration=stored.duration,
                width=stored.width,
                height=stored.height,
                fps=stored.fps,
                format="mp4",
                source_url=stored.source_url,
            )
        return Task(
            task_id=record.id,
            status=record.status,
            progress=100 if record.status is Status.COMPLETED else record.progress,
            model=record.model,
            mode=record.mode,
            provider=record.provider,
            prompt=record.request.prompt,
            duration=record.shape.duration,
            size=f"{record.shape.width}*{record.shape.height}",
            created_at=aware(record.created_at),
            updated_at=aware(record.updated_at),
            started_at=aware(record.started_at),
            finished_at=aware(record.finished_at),
            result=result,
            error=_public(record.error),
            usage=record.usage,
            cost=record.cost if record.status.terminal else None,
            callback_url=record.callback_url,
            metadata=record.request.metadata,
        )

    def webhook_payload(self, delivery: Delivery, record: TaskRecord) -> dict[str, Any]:
        """A delivery's body: the event, and the task as that event left it."""
        event = delivery.event
        return {
            "type": event.type,
            "timestamp": iso(event.created_at),
            "data": render_task(self.task(record, event.state)),
        }

    @staticmethod
    def delivery(delivery: Delivery) -> dict[str, Any]:
        """One delivery and its attempts, for the delivery log."""
        return {
            "id": delivery.id,
            "type": delivery.event.type,
            "url": delivery.url,
            "status": delivery.status,
            "attempts": [
                {
                    "at": iso(attempt.attempted_at),
                    "status_code": attempt.status_code,
                    "error": public_message(attempt.error) if attempt.error else attempt.error,
                    "duration_ms": attempt.duration_ms,
                }
                for attempt in delivery.history
            ],
            "next_attempt_at": iso(delivery.next_attempt_at)
            if delivery.status == "pending"
            else None,
            "delivered_at": iso(delivery.delivered_at),
        }

    def upload(self, file: FileRecord, public_id: str, kind: MediaKind) -> dict[str, Any]:
        """An uploaded file, with the signed URL that requests may use as an input."""
        signed = self.sign(file.id)
        return {
            "id": public_id,
            "object": "file",
            "kind": kind,
            "filename": file.filename,
            "bytes": file.bytes,
            "url": signed.url,
            "expires_at": iso(datetime.fromtimestamp(signed.expires_at, UTC)),
        }


def _public(error: TaskError | None) -> TaskError | None:
    """A task's error as clients read it: stored messages may quote paths or SQL."""
    if error is None:
        return None
    return TaskError(code=error.code, message=public_message(error.message))
