"""Events and webhook deliveries, in SQL: appended with each change, read by id, leased.

On PostgreSQL each event is also announced to every node (see `database.Database.writing`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update

from vidgate.clock import utcnow
from vidgate.records import AttemptReport, Delivery, Event, TaskRecord
from vidgate.store.sql.concern import SqlConcern, lease_due
from vidgate.store.sql.database import Connectionlike, Database
from vidgate.store.sql.notify import NoticeListener
from vidgate.store.sql.rows import delivery_from, event_from, state_values
from vidgate.store.sql.tables import deliveries, delivery_attempts, events
from vidgate.webhooks import event_type, wants_delivery

__all__ = ["SqlOutbox", "append_event", "append_events"]

INSERT_EVENT = insert(events)
INSERT_EVENTS = insert(events).returning(events.c.id, sort_by_parameter_order=True)
INSERT_DELIVERY = insert(deliveries)


async def append_event(
    db: Database, conn: Connectionlike, task: TaskRecord, now: datetime
) -> Event:
    """Append the event for the state ``task`` is now in, and its webhook delivery if wanted."""
    (event,) = await append_events(db, conn, [(task, now)])
    return event


async def append_events(
    db: Database, conn: Connectionlike, changes: Sequence[tuple[TaskRecord, datetime]]
) -> list[Event]:
    """Append the events for the states tasks are now in (each with the moment it changed),
    in one statement whose ids rise in that order, and their webhook deliveries if wanted."""
    await db.before_event(conn)
    kinds = [event_type(task.status, task.progress) for task, _ in changes]
    rows = [
        {
            "task_id": task.id,
            "owner_id": task.owner_id,
            "type": kind,
            "status": task.status.value,
            "progress": task.progress,
            "created_at": now,
            "state": state_values(task.state),
        }
        for (task, now), kind in zip(changes, kinds, strict=True)
    ]
    if len(rows) == 1:
        result = await conn.execute(INSERT_EVENT, rows[0])
        assert result.inserted_primary_key is not None
        ids = [int(result.inserted_primary_key[0])]
    else:
        ids = list((await conn.execute(INSERT_EVENTS, rows)).scalars())
    appended = [
        Event(event_id, task.id, task.owner_id, kind, task.status, task.progress, now, task.state)
        for event_id, (task, now), kind in zip(ids, changes, kinds, strict=True)
    ]
    wanted = [
        {
            "id": f"msg_{task.id.replace('-', '')[:20]}{event.id}",
            "event_id": event.id,
            "task_id": task.id,
            "owner_id": task.owner_id,
            "url": task.callback_url,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": event.created_at,
            "created_at": event.created_at,
        }
        for event, (task, _) in zip(appended, changes, strict=True)
        if task.callback_url and wants_delivery(task.request.webhook_events, event.type)
    ]
    if wanted:
        await conn.execute(INSERT_DELIVERY, wanted)
    for event in appended:
        db.announce(conn, event)
    return appended


class SqlOutbox(SqlConcern):
    async def events_after(
        self, owner_id: str, after: int, task_id: str | None = None, limit: int = 500
    ) -> list[Event]:
        query = select(events).where(events.c.owner_id == owner_id, events.c.id > after)
        if task_id is not None:
            query = query.where(events.c.task_id == task_id)
        async with self.db.reading() as conn:
            result = await conn.execute(query.order_by(events.c.id).limit(limit))
            return [event_from(row) for row in result.mappings()]

    async def events_since(self, after: int, limit: int = 1000) -> list[Event]:
        async with self.db.reading() as conn:
            result = await conn.execute(
                select(events).where(events.c.id > after).order_by(events.c.id).limit(limit)
            )
            return [event_from(row) for row in result.mappings()]

    async def last_event_id(self) -> int:
        async with self.db.reading() as conn:
            result = await conn.execute(select(func.max(events.c.id)))
            return int(result.scalar_one() or 0)

    def listen_events(self) -> NoticeListener | None:
        return self.db.listen()

    async def claim_deliveries(self, worker: str, lease: timedelta, limit: int) -> list[Delivery]:
        now = utcnow()
        due = and_(
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.lease_owner.is_(None), deliveries.c.lease_expires_at < now),
        )
        expires = now + lease
        async with self.db.writing() as conn:
            order = deliveries.c.next_attempt_at
            if not await lease_due(conn, deliveries, due, order, limit, worker, expires):
                return []
            rows = await conn.execute(
                select(deliveries, *_EVENT_COLUMNS)
                .join(events, events.c.id == deliveries.c.event_id)
                .where(deliveries.c.lease_owner == worker, deliveries.c.lease_expires_at == expires)
            )
            return [delivery_from(row, _event_of(row)) for row in rows.mappings()]

    async def record_attempt(self, delivery_id: str, worker: str, report: AttemptReport) -> None:
        await self.record_attempts(worker, [(delivery_id, report)])

    async def record_attempts(
        self, worker: str, reports: Sequence[tuple[str, AttemptReport]]
    ) -> None:
        if not reports:
            return
        now = utcnow()
        async with self.db.writing() as conn:
            logged: list[dict[str, object]] = []
            for delivery_id, report in reports:
                values: dict[str, object] = {
                    "status": report.outcome,
                    "attempts": deliveries.c.attempts + 1,
                    "lease_owner": None,
                    "lease_expires_at": None,
                }
                if report.outcome == "delivered":
                    values["delivered_at"] = now
                if report.next_attempt_at is not None:
                    values["next_attempt_at"] = report.next_attempt_at
                changed = await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id == delivery_id, deliveries.c.lease_owner == worker)
                    .values(**values)
                )
                if changed.rowcount == 1:
                    logged.append(
                        {
                            "delivery_id": delivery_id,
                            "attempted_at": now,
                            "status_code": report.status_code,
                            "error": report.error,
                            "duration_ms": report.duration_ms,
                        }
                    )
            if logged:
                await conn.execute(insert(delivery_attempts), logged)

    async def deliveries_for(self, task_id: str) -> list[Delivery]:
        async with self.db.reading() as conn:
            found = await conn.execute(
                select(deliveries, *_EVENT_COLUMNS)
                .join(events, events.c.id == deliveries.c.event_id)
                .where(deliveries.c.task_id == task_id)
                .order_by(deliveries.c.event_id)
            )
            rows = list(found.mappings())
            attempts = await conn.execute(
                select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id.in_([r["id"] for r in rows]))
                .order_by(delivery_attempts.c.id)
            )
            by_delivery: dict[str, list[Mapping[Any, Any]]] = {}
            for attempt in attempts.mappings():
                by_delivery.setdefault(attempt["delivery_id"], []).append(attempt)
            return [
                delivery_from(row, _event_of(row), by_delivery.get(row["id"], [])) for row in rows
            ]

    async def redeliver(self, task_id: str, delivery_id: str) -> bool:
        now = utcnow()
        async with self.db.writing() as conn:
            changed = await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.task_id == task_id)
                .values(status="pending", next_attempt_at=now, created_at=now)
            )
            return bool(changed.rowcount == 1)


_EVENT_COLUMNS = (
    events.c.type.label("event_type"),
    events.c.status.label("event_status"),
    events.c.progress.label("event_progress"),
    events.c.created_at.label("event_at"),
    events.c.state.label("event_state"),
)


def _event_of(row: Mapping[Any, Any]) -> Event:
    return event_from(
        {
            "id": row["event_id"],
            "task_id": row["task_id"],
            "owner_id": row["owner_id"],
            "type": row["event_type"],
            "status": row["event_status"],
            "progress": row["event_progress"],
            "created_at": row["event_at"],
            "state": row["event_state"],
        }
    )
