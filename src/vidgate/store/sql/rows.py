"""Rows to records and back: the only place that knows how records are laid out in tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from vidgate.catalog import Shape
from vidgate.models import Mode, Status, TaskError, Usage, VideoRequest
from vidgate.pricing import UNIT_PRICE, Price
from vidgate.records import (
    AuditEntry,
    Delivery,
    DeliveryAttempt,
    DeliveryOutcome,
    Event,
    FileRecord,
    KeyRecord,
    LedgerEntry,
    MediaKind,
    NewTask,
    StoredInput,
    StoredResult,
    TaskRecord,
    TaskState,
)

__all__ = [
    "audit_from",
    "delivery_from",
    "event_from",
    "file_from",
    "file_values",
    "key_from",
    "key_values",
    "ledger_from",
    "price_from",
    "price_values",
    "result_values",
    "state_values",
    "task_from",
    "task_values",
]

Row = Mapping[Any, Any]
_REQUEST_FIELDS = frozenset(VideoRequest.model_fields)


def key_values(key: KeyRecord) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "key_hash": key.key_hash,
        "prefix": key.prefix,
        "quota_seconds": key.quota_seconds,
        "reserved_seconds": key.reserved_seconds,
        "used_seconds": key.used_seconds,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "webhook_secret": key.webhook_secret,
        "max_in_flight": key.max_in_flight,
        "max_submits_per_minute": key.max_submits_per_minute,
        "admin": key.admin,
    }


def key_from(row: Row) -> KeyRecord:
    return KeyRecord(
        id=row["id"],
        name=row["name"],
        key_hash=row["key_hash"],
        prefix=row["prefix"],
        quota_seconds=row["quota_seconds"],
        reserved_seconds=row["reserved_seconds"],
        used_seconds=row["used_seconds"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        webhook_secret=row["webhook_secret"],
        max_in_flight=row["max_in_flight"],
        max_submits_per_minute=row["max_submits_per_minute"],
        admin=bool(row["admin"]),
    )


def _request_json(task: NewTask) -> dict[str, Any]:
    """The request column: the request's fields, its resolved shape and seed, and its inputs."""
    body = task.request.model_dump(mode="json", exclude_none=True)
    shape = task.shape
    body["resolved"] = {
        "width": shape.width,
        "height": shape.height,
        "fps": shape.fps,
        "duration": shape.duration,
        "resolution": shape.resolution,
        "ratio": shape.ratio,
        "seed": task.seed,
    }
    inputs: dict[str, list[dict[str, Any]]] = {}
    for item in task.inputs:
        inputs.setdefault(item.field, []).append(
            {"blob": item.blob, "kind": item.kind, "duration": item.duration}
        )
    body["inputs"] = inputs
    return body


def task_values(task: NewTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "owner_id": task.owner_id,
        "model": task.model,
        "mode": task.mode.value,
        "provider": task.provider,
        "request": _request_json(task),
        "status": Status.QUEUED.value,
        "progress": 0,
        "reserved_seconds": task.reserved_seconds,
        "callback_url": task.callback_url,
        "idempotency_key": task.idempotency_key,
        "request_hash": task.request_hash,
        "price": price_values(task.price),
        "attempts": 0,
        "created_at": task.created_at,
        "updated_at": task.created_at,
    }


def price_values(price: Price) -> dict[str, float]:
    return {"per_second": price.per_second, "per_task": price.per_task}


def price_from(stored: Mapping[str, Any] | None) -> Price:
    """A task's accepted price; tasks stored before prices were kept cost one credit a second."""
    if not stored:
        return UNIT_PRICE
    return Price(per_second=float(stored["per_second"]), per_task=float(stored["per_task"]))


def _inputs_from(stored: Mapping[str, Iterable[Mapping[str, Any]]]) -> tuple[StoredInput, ...]:
    return tuple(
        StoredInput(
            field=name,
            blob=item["blob"],
            kind=cast(MediaKind, item["kind"]),
            duration=float(item.get("duration") or 0.0),
        )
        for name, items in stored.items()
        for item in items
    )


def result_values(result: StoredResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    values: dict[str, Any] = {
        "blob": result.blob,
        "duration": result.duration,
        "width": result.width,
        "height": result.height,
        "fps": result.fps,
        "bytes": result.bytes,
    }
    if result.source_url is not None:
        values["source_url"] = result.source_url
    return values


def _result_from(stored: Mapping[str, Any] | None) -> StoredResult | None:
    if not stored:
        return None
    return StoredResult(
        blob=stored["blob"],
        duration=float(stored.get("duration") or 0.0),
        width=int(stored.get("width") or 0),
        height=int(stored.get("height") or 0),
        fps=int(stored.get("fps") or 0),
        bytes=int(stored.get("bytes") or 0),
        source_url=stored.get("source_url"),
    )


def _error_from(stored: Mapping[str, Any] | None) -> TaskError | None:
    return TaskError.model_validate(stored) if stored else None


def _usage_from(stored: Mapping[str, Any] | None) -> Usage | None:
    return Usage.model_validate(stored) if stored else None


def task_from(row: Row) -> TaskRecord:
    body: Mapping[str, Any] = row["request"]
    resolved = body["resolved"]
    return TaskRecord(
        id=row["id"],
        owner_id=row["owner_id"],
        model=row["model"],
        mode=Mode(row["mode"]),
        provider=row["provider"],
        request=VideoRequest.model_validate(
            {name: value for name, value in body.items() if name in _REQUEST_FIELDS}
        ),
        shape=Shape(
            width=resolved["width"],
            height=resolved["height"],
            fps=resolved["fps"],
            duration=resolved["duration"],
            resolution=resolved["resolution"],
            ratio=resolved["ratio"],
        ),
        seed=int(resolved["seed"]),
        inputs=_inputs_from(body.get("inputs") or {}),
        status=Status(row["status"]),
        progress=row["progress"],
        reserved_seconds=row["reserved_seconds"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=_error_from(row["error"]),
        result=_result_from(row["result"]),
        usage=_usage_from(row["usage"]),
        callback_url=row["callback_url"],
        idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"],
        attempts=row["attempts"],
        upstream_id=row["upstream_id"],
        upstream_status=row["upstream_status"],
        credential=row["credential"],
        next_poll_at=row["next_poll_at"],
        poll_failures=row["poll_failures"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        price=price_from(row["price"]),
        billed_seconds=row["billed_seconds"],
        cost=row["cost"],
    )


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def state_values(state: TaskState) -> dict[str, Any]:
    """A task state as JSON, for the event that captures it."""
    return {
        "status": state.status.value,
        "progress": state.progress,
        "provider": state.provider,
        "updated_at": state.updated_at.isoformat(),
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
        "error": state.error.model_dump() if state.error else None,
        "result": result_values(state.result),
        "usage": state.usage.model_dump() if state.usage else None,
    }


def _state_from(stored: Mapping[str, Any] | None) -> TaskState | None:
    if not stored:
        return None
    return TaskState(
        status=Status(stored["status"]),
        progress=stored["progress"],
        provider=stored["provider"],
        updated_at=datetime.fromisoformat(stored["updated_at"]),
        started_at=_moment(stored.get("started_at")),
        finished_at=_moment(stored.get("finished_at")),
        error=_error_from(stored.get("error")),
        result=_result_from(stored.get("result")),
        usage=_usage_from(stored.get("usage")),
    )


def event_from(row: Row) -> Event:
    return Event(
        id=row["id"],
        task_id=row["task_id"],
        owner_id=row["owner_id"],
        type=row["type"],
        status=Status(row["status"]),
        progress=row["progress"],
        created_at=row["created_at"],
        state=_state_from(row.get("state")),
    )


def delivery_from(row: Row, event: Event, attempts: Iterable[Row] = ()) -> Delivery:
    return Delivery(
        id=row["id"],
        event=event,
        url=row["url"],
        status=cast(DeliveryOutcome, row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        history=tuple(
            DeliveryAttempt(
                attempted_at=attempt["attempted_at"],
                status_code=attempt["status_code"],
                error=attempt["error"],
                duration_ms=attempt["duration_ms"],
            )
            for attempt in attempts
        ),
    )


def file_values(file: FileRecord) -> dict[str, Any]:
    return {
        "id": file.id,
        "owner_id": file.owner_id,
        "purpose": file.purpose,
        "filename": file.filename,
        "content_type": file.content_type,
        "bytes": file.bytes,
        "sha256": file.sha256,
        "created_at": file.created_at,
    }


def file_from(row: Row) -> FileRecord:
    return FileRecord(
        id=row["id"],
        owner_id=row["owner_id"],
        purpose=row["purpose"],
        filename=row["filename"],
        content_type=row["content_type"],
        bytes=row["bytes"],
        sha256=row["sha256"],
        created_at=row["created_at"],
    )


def ledger_from(row: Row) -> LedgerEntry:
    return LedgerEntry(
        id=row["id"],
        key_id=row["key_id"],
        task_id=row["task_id"],
        kind=row["kind"],
        phase=row["phase"],
        seconds=row["seconds"],
        created_at=row["created_at"],
    )


def audit_from(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        created_at=row["created_at"],
        before=row["before"],
        after=row["after"],
    )
