"""The durable store: every read and every compare-and-set write of vidgate's state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from vidgate.clock import utcnow
from vidgate.models import Status
from vidgate.store.inline import InlineConnection, InlineEngine
from vidgate.store.migrate import upgrade
from vidgate.store.tables import (
    api_keys,
    deliveries,
    delivery_attempts,
    events,
    files,
    ledger,
    tasks,
)
from vidgate.webhooks import TERMINAL_EVENTS

__all__ = ["QuotaShort", "Store"]

Row = RowMapping
TASK_BY_ID = select(tasks).where(tasks.c.id == bindparam("task_id"))
TASK_OF_OWNER = TASK_BY_ID.where(tasks.c.owner_id == bindparam("owner_id"))
KEY_BY_HASH = select(api_keys).where(
    api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None)
)
INSERT_TASK = insert(tasks)
INSERT_LEDGER = insert(ledger)
INSERT_EVENT = insert(events)
Connectionlike = AsyncConnection | InlineConnection
ACTIVE = (Status.QUEUED.value, Status.PROCESSING.value)

# PostgreSQL advisory lock keys (64-bit, chosen once): one for migrating, one for events.
MIGRATION_LOCK = 0x76696467_6D696772  # "vidgmigr"
EVENT_LOCK = 0x76696467_6576656E  # "vidgeven"


class Store:
    """One interface over SQLite (embedded) and PostgreSQL (shared by many processes)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write: AsyncEngine | InlineEngine
        self._read: AsyncEngine | InlineEngine
        if self.is_sqlite:
            self._write = InlineEngine(url, immediate=True)
            self._read = InlineEngine(url, immediate=False)
        else:
            self._write = create_async_engine(url, pool_size=10, max_overflow=20)
            self._read = self._write
        self.listeners: list[Callable[[str, str], None]] = []

    async def open(self) -> None:
        """Bring the schema up to date; safe to run from several processes at once.

        SQLite's write lock (BEGIN IMMEDIATE) serializes the migrations; PostgreSQL runs them
        under a transaction-level advisory lock, so a second opener waits, then finds them done.
        """
        async with self._write.begin() as conn:
            if not self.is_sqlite:
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        await self._write.dispose()
        if self._read is not self._write:
            await self._read.dispose()

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[Connectionlike]:
        """A write transaction; on SQLite it holds the write lock from its first statement.

        Listeners hear of the events it wrote once it has committed, never before.
        """
        written: list[tuple[str, str]] = []
        async with self._write.begin() as conn:
            # Hold the dict itself: a write cancelled mid-statement invalidates the connection,
            # and reading `conn.info` then would raise over the CancelledError.
            info = conn.info
            info["vidgate_events"] = written
            try:
                yield conn
            finally:
                info.pop("vidgate_events", None)
                info.pop("vidgate_event_lock", None)
        for task_id, owner_id in written:
            for listener in self.listeners:
                listener(task_id, owner_id)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Connectionlike]:
        async with self._read.connect() as conn:
            yield conn

    # keys

    async def insert_key(self, row: Mapping[str, Any]) -> None:
        async with self.writing() as conn:
            await conn.execute(insert(api_keys).values(**row))

    async def key_by_hash(self, key_hash: str) -> Row | None:
        async with self.reading() as conn:
            result = await conn.execute(KEY_BY_HASH, {"key_hash": key_hash})
            return result.mappings().first()

    async def key_by_id(self, key_id: str) -> Row | None:
        async with self.reading() as conn:
            result = await conn.execute(select(api_keys).where(api_keys.c.id == key_id))
            return result.mappings().first()

    async def list_keys(self) -> list[Row]:
        async with self.reading() as conn:
            result = await conn.execute(select(api_keys).order_by(api_keys.c.created_at))
            return list(result.mappings())

    async def ledger_for(self, key_id: str) -> list[Row]:
        async with self.reading() as conn:
            result = await conn.execute(
                select(ledger).where(ledger.c.key_id == key_id).order_by(ledger.c.id)
            )
            return list(result.mappings())

    # tasks

    async def insert_task(self, row: Mapping[str, Any]) -> tuple[Row, bool]:
        """Reserve quota and insert a queued task in one transaction.

        Returns the task and whether it is new; an existing task with the same idempotency
        key is returned instead of a second one. Returns no task when the quota is short.
        """
        now = row["created_at"]
        try:
            async with self.writing() as conn:
                existing = await self._by_idempotency(conn, row)
                if existing is not None:
                    return existing, False
                seconds = row["reserved_seconds"]
                reserved = await conn.execute(
                    update(api_keys)
                    .where(
                        api_keys.c.id == row["owner_id"],
                        or_(
                            api_keys.c.quota_seconds.is_(None),
                            api_keys.c.quota_seconds
                            - api_keys.c.used_seconds
                            - api_keys.c.reserved_seconds
                            >= seconds,
                        ),
                    )
                    .values(reserved_seconds=api_keys.c.reserved_seconds + seconds)
                )
                if reserved.rowcount != 1:
                    raise QuotaShort
                await conn.execute(INSERT_TASK, dict(row))
                await conn.execute(
                    INSERT_LEDGER,
                    {
                        "key_id": row["owner_id"],
                        "task_id": row["id"],
                        "kind": "reserve",
                        "phase": "open",
                        "seconds": seconds,
                        "created_at": now,
                    },
                )
                await self._event(conn, row, Status.QUEUED, 0, now)
                stored = await self._task(conn, row["id"])
                assert stored is not None
                return stored, True
        except IntegrityError:
            if row.get("idempotency_key") is None:
                raise
            async with self.reading() as conn:
                existing = await self._by_idempotency(conn, row)
            if existing is None:
                raise
            return existing, False

    async def _by_idempotency(self, conn: Connectionlike, row: Mapping[str, Any]) -> Row | None:
        if row.get("idempotency_key") is None:
            return None
        result = await conn.execute(
            select(tasks).where(
                tasks.c.owner_id == row["owner_id"],
                tasks.c.idempotency_key == row["idempotency_key"],
            )
        )
        return result.mappings().first()

    async def task_by_idempotency(self, owner_id: str, key: str) -> Row | None:
        async with self.reading() as conn:
            return await self._by_idempotency(conn, {"owner_id": owner_id, "idempotency_key": key})

    async def _task(self, conn: Connectionlike, task_id: str) -> Row | None:
        result = await conn.execute(TASK_BY_ID, {"task_id": task_id})
        return result.mappings().first()

    async def task(self, task_id: str, owner_id: str | None = None) -> Row | None:
        """A task by id; with an owner, only that owner's task."""
        async with self.reading() as conn:
            if owner_id is None:
                return await self._task(conn, task_id)
            result = await conn.execute(TASK_OF_OWNER, {"task_id": task_id, "owner_id": owner_id})
            return result.mappings().first()

    async def list_tasks(
        self,
        owner_id: str,
        *,
        status: str | None,
        model: str | None,
        limit: int,
        after: str | None,
    ) -> list[Row]:
        """The owner's tasks, newest first, starting after the cursor id."""
        query = select(tasks).where(tasks.c.owner_id == owner_id)
        if status is not None:
            query = query.where(tasks.c.status == status)
        if model is not None:
            query = query.where(tasks.c.model == model)
        if after is not None:
            query = query.where(tasks.c.id < after)
        query = query.order_by(tasks.c.id.desc()).limit(limit)
        async with self.reading() as conn:
            result = await conn.execute(query)
            return list(result.mappings())

    async def claim(
        self, provider: str, worker: str, lease: timedelta, limit: int, max_attempts: int
    ) -> list[Row]:
        """Lease up to `limit` runnable tasks of one provider: queued, or orphaned by a crash."""
        now = utcnow()
        runnable = or_(
            tasks.c.status == Status.QUEUED.value,
            and_(
                tasks.c.status == Status.PROCESSING.value,
                tasks.c.upstream_id.is_(None),
                tasks.c.lease_expires_at < now,
                tasks.c.attempts < max_attempts,
            ),
        )
        claimed: list[Row] = []
        async with self.writing() as conn:
            result = await conn.execute(
                select(tasks.c.id, tasks.c.status)
                .where(tasks.c.provider == provider, runnable)
                .order_by(tasks.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            for task_id, status in result.all():
                changed = await conn.execute(
                    update(tasks)
                    .where(tasks.c.id == task_id, runnable)
                    .values(
                        status=Status.PROCESSING.value,
                        lease_owner=worker,
                        lease_expires_at=now + lease,
                        attempts=tasks.c.attempts + 1,
                        started_at=func.coalesce(tasks.c.started_at, now),
                        updated_at=now,
                    )
                )
                if changed.rowcount != 1:
                    continue
                row = await self._task(conn, task_id)
                assert row is not None
                if status == Status.QUEUED.value:
                    await self._event(conn, row, Status.PROCESSING, 0, now)
                claimed.append(row)
        return claimed

    async def renew(self, task_id: str, worker: str, lease: timedelta) -> bool:
        """Extend a lease; False once the task is no longer this worker's to run."""
        now = utcnow()
        async with self.writing() as conn:
            result = await conn.execute(
                update(tasks)
                .where(
                    tasks.c.id == task_id,
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.lease_owner == worker,
                )
                .values(lease_expires_at=now + lease)
            )
            return result.rowcount == 1

    async def in_flight(self, provider: str) -> int:
        """Tasks a provider holds now: being submitted to it, or running there."""
        async with self.reading() as conn:
            result = await conn.execute(
                select(func.count())
                .select_from(tasks)
                .where(tasks.c.provider == provider, tasks.c.status == Status.PROCESSING.value)
            )
            return int(result.scalar_one())

    async def record_upstream(
        self,
        task_id: str,
        worker: str,
        *,
        provider: str,
        upstream_id: str,
        credential: str,
        next_poll_at: datetime,
    ) -> bool:
        """Pin a task to the upstream task, provider and credential that accepted it."""
        async with self.writing() as conn:
            result = await conn.execute(
                update(tasks)
                .where(
                    tasks.c.id == task_id,
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.lease_owner == worker,
                )
                .values(
                    provider=provider,
                    upstream_id=upstream_id,
                    credential=credential,
                    next_poll_at=next_poll_at,
                    poll_failures=0,
                    lease_owner=None,
                    lease_expires_at=None,
                    started_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
            return result.rowcount == 1

    async def claim_polls(
        self, providers: Collection[str], worker: str, lease: timedelta, limit: int
    ) -> list[Row]:
        """Lease running upstream tasks whose next poll is due."""
        now = utcnow()
        due = and_(
            tasks.c.status == Status.PROCESSING.value,
            tasks.c.provider.in_(list(providers)),
            tasks.c.upstream_id.is_not(None),
            tasks.c.next_poll_at <= now,
            or_(tasks.c.lease_owner.is_(None), tasks.c.lease_expires_at < now),
        )
        async with self.writing() as conn:
            if not await self._lease_due(
                conn, tasks, due, tasks.c.next_poll_at, limit, worker, now + lease
            ):
                return []
            rows = await conn.execute(
                select(tasks).where(
                    tasks.c.lease_owner == worker, tasks.c.lease_expires_at == now + lease
                )
            )
            return list(rows.mappings())

    @staticmethod
    async def _lease_due(
        conn: Connectionlike,
        table: Table,
        due: ColumnElement[bool],
        order: ColumnElement[Any],
        limit: int,
        worker: str,
        expires: datetime,
    ) -> bool:
        """Lease up to `limit` due rows of `table` to `worker`; False when none were due."""
        result = await conn.execute(
            select(table.c.id)
            .where(due)
            .order_by(order)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [row[0] for row in result.all()]
        if not ids:
            return False
        await conn.execute(
            update(table)
            .where(table.c.id.in_(ids), due)
            .values(lease_owner=worker, lease_expires_at=expires)
        )
        return True

    async def reschedule(
        self,
        task_id: str,
        worker: str,
        *,
        next_poll_at: datetime,
        upstream_status: str | None,
        failed_poll: bool,
    ) -> bool:
        """Release a polled task until its next poll, counting consecutive failed polls."""
        failures = tasks.c.poll_failures + 1 if failed_poll else 0
        values: dict[str, Any] = {
            "next_poll_at": next_poll_at,
            "poll_failures": failures,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if upstream_status is not None:
            values["upstream_status"] = upstream_status
        async with self.writing() as conn:
            result = await conn.execute(
                update(tasks)
                .where(
                    tasks.c.id == task_id,
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.lease_owner == worker,
                )
                .values(**values)
            )
            return result.rowcount == 1

    async def set_progress(self, task_id: str, worker: str, progress: int) -> bool:
        now = utcnow()
        async with self.writing() as conn:
            result = await conn.execute(
                update(tasks)
                .where(
                    tasks.c.id == task_id,
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.lease_owner == worker,
                    tasks.c.progress < progress,
                )
                .values(progress=progress, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            row = await self._task(conn, task_id)
            assert row is not None
            await self._event(conn, row, Status.PROCESSING, progress, now)
            return True

    async def transition(
        self,
        task_id: str,
        *,
        expected: Collection[Status],
        to: Status,
        owner_id: str | None = None,
        worker: str | None = None,
        values: Mapping[str, Any] | None = None,
        settle_seconds: float | None = None,
    ) -> Row | None:
        """Compare-and-set a task's status; the winner alone settles or refunds its quota.

        Completion settles `settle_seconds`; failure and cancellation refund the reservation.
        Returns the updated task, or None when the task was not in an expected status.
        """
        if any(status.terminal for status in expected):
            raise ValueError("a terminal status never changes")
        now = utcnow()
        conditions = [
            tasks.c.id == task_id,
            tasks.c.status.in_([s.value for s in expected]),
        ]
        if owner_id is not None:
            conditions.append(tasks.c.owner_id == owner_id)
        if worker is not None:
            conditions.append(tasks.c.lease_owner == worker)
        changes: dict[str, Any] = {"status": to.value, "updated_at": now, **(values or {})}
        if to.terminal:
            changes.update(finished_at=now, lease_owner=None, lease_expires_at=None)
        async with self.writing() as conn:
            result = await conn.execute(update(tasks).where(*conditions).values(**changes))
            if result.rowcount != 1:
                return None
            row = await self._task(conn, task_id)
            assert row is not None
            if to.terminal:
                await self._close_reservation(conn, row, to, settle_seconds, now)
            await self._event(conn, row, to, row["progress"], now)
            return row

    async def _close_reservation(
        self,
        conn: Connectionlike,
        row: Row,
        to: Status,
        settle_seconds: float | None,
        now: datetime,
    ) -> None:
        reserved = row["reserved_seconds"]
        settle = to is Status.COMPLETED
        used = (settle_seconds if settle_seconds is not None else reserved) if settle else 0.0
        await conn.execute(
            insert(ledger).values(
                key_id=row["owner_id"],
                task_id=row["id"],
                kind="settle" if settle else "refund",
                phase="close",
                seconds=used if settle else reserved,
                created_at=now,
            )
        )
        await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == row["owner_id"])
            .values(
                reserved_seconds=api_keys.c.reserved_seconds - reserved,
                used_seconds=api_keys.c.used_seconds + used,
            )
        )

    async def _event(
        self,
        conn: Connectionlike,
        row: Mapping[Any, Any],
        status: Status,
        progress: int,
        now: datetime,
    ) -> None:
        """Append an event and, where the task asked for it, its webhook delivery.

        Followers read events by id, so ids must become visible in order. SQLite has one writer
        at a time; on PostgreSQL concurrent transactions could commit ids out of order, so each
        takes an advisory lock before its first event and holds it to commit. Callers already
        hold their row locks by then (claims lock their candidates up front), so no deadlock.
        """
        kind = "task.progress" if status is Status.PROCESSING and progress else f"task.{status}"
        written = conn.info.setdefault("vidgate_events", [])
        if not self.is_sqlite and not conn.info.get("vidgate_event_lock"):
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({EVENT_LOCK})")
            conn.info["vidgate_event_lock"] = True
        written.append((row["id"], row["owner_id"]))
        result = await conn.execute(
            INSERT_EVENT,
            {
                "task_id": row["id"],
                "owner_id": row["owner_id"],
                "type": kind,
                "status": status.value,
                "progress": progress,
                "created_at": now,
            },
        )
        url = row.get("callback_url")
        wanted = (row.get("request") or {}).get("webhook_events") or TERMINAL_EVENTS
        if url and kind in wanted:
            assert result.inserted_primary_key is not None
            event_id = result.inserted_primary_key[0]
            await conn.execute(
                insert(deliveries).values(
                    id=f"msg_{row['id'].replace('-', '')[:20]}{event_id}",
                    event_id=event_id,
                    task_id=row["id"],
                    owner_id=row["owner_id"],
                    url=url,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )

    async def events_after(
        self, owner_id: str, after: int, task_id: str | None = None, limit: int = 500
    ) -> list[Row]:
        """The owner's events with ids above `after`, oldest first; one task's if given."""
        query = select(events).where(events.c.owner_id == owner_id, events.c.id > after)
        if task_id is not None:
            query = query.where(events.c.task_id == task_id)
        async with self.reading() as conn:
            result = await conn.execute(query.order_by(events.c.id).limit(limit))
            return list(result.mappings())

    async def claim_deliveries(self, worker: str, lease: timedelta, limit: int) -> list[Row]:
        """Lease webhook deliveries that are due."""
        now = utcnow()
        due = and_(
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.lease_owner.is_(None), deliveries.c.lease_expires_at < now),
        )
        async with self.writing() as conn:
            expires = now + lease
            order = deliveries.c.next_attempt_at
            if not await self._lease_due(conn, deliveries, due, order, limit, worker, expires):
                return []
            rows = await conn.execute(
                select(deliveries, events.c.type, events.c.created_at.label("event_at"))
                .join(events, events.c.id == deliveries.c.event_id)
                .where(deliveries.c.lease_owner == worker, deliveries.c.lease_expires_at == expires)
            )
            return list(rows.mappings())

    async def record_attempt(
        self,
        delivery_id: str,
        worker: str,
        *,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        outcome: str,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Log one attempt; `outcome` is delivered, pending (retry at next_attempt_at) or failed."""
        now = utcnow()
        values: dict[str, Any] = {
            "status": outcome,
            "attempts": deliveries.c.attempts + 1,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if outcome == "delivered":
            values["delivered_at"] = now
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        async with self.writing() as conn:
            changed = await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.lease_owner == worker)
                .values(**values)
            )
            if changed.rowcount != 1:
                return
            await conn.execute(
                insert(delivery_attempts).values(
                    delivery_id=delivery_id,
                    attempted_at=now,
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                )
            )

    async def deliveries_for(self, task_id: str) -> list[tuple[Row, list[Row]]]:
        """A task's webhook deliveries, each with its attempts, oldest first."""
        async with self.reading() as conn:
            found = await conn.execute(
                select(deliveries, events.c.type)
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
            by_delivery: dict[str, list[Row]] = {}
            for attempt in attempts.mappings():
                by_delivery.setdefault(attempt["delivery_id"], []).append(attempt)
            return [(row, by_delivery.get(row["id"], [])) for row in rows]

    async def set_webhook_secret(self, key_id: str, secret: str) -> str:
        """Give a key its webhook secret unless it has one; returns the secret in force."""
        async with self.writing() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.webhook_secret.is_(None))
                .values(webhook_secret=secret)
            )
            result = await conn.execute(
                select(api_keys.c.webhook_secret).where(api_keys.c.id == key_id)
            )
            return str(result.scalar_one())

    async def events_since(self, after: int, limit: int = 1000) -> list[Row]:
        """Every event with an id above `after`, oldest first, whoever wrote it."""
        async with self.reading() as conn:
            result = await conn.execute(
                select(events.c.id, events.c.task_id, events.c.owner_id)
                .where(events.c.id > after)
                .order_by(events.c.id)
                .limit(limit)
            )
            return list(result.mappings())

    async def last_event_id(self) -> int:
        async with self.reading() as conn:
            result = await conn.execute(select(func.max(events.c.id)))
            return int(result.scalar_one() or 0)

    async def events_for(self, task_id: str) -> list[Row]:
        async with self.reading() as conn:
            result = await conn.execute(
                select(events).where(events.c.task_id == task_id).order_by(events.c.id)
            )
            return list(result.mappings())

    async def overdue(self, deadline: datetime, limit: int = 100) -> list[Row]:
        """Active tasks created before the deadline."""
        async with self.reading() as conn:
            result = await conn.execute(
                select(tasks)
                .where(tasks.c.status.in_(ACTIVE), tasks.c.created_at < deadline)
                .limit(limit)
            )
            return list(result.mappings())

    async def exhausted(self, max_attempts: int, limit: int = 100) -> list[Row]:
        """Orphaned tasks that have already been started `max_attempts` times."""
        async with self.reading() as conn:
            result = await conn.execute(
                select(tasks)
                .where(
                    tasks.c.status == Status.PROCESSING.value,
                    tasks.c.upstream_id.is_(None),
                    tasks.c.lease_expires_at < utcnow(),
                    tasks.c.attempts >= max_attempts,
                )
                .limit(limit)
            )
            return list(result.mappings())

    # files

    async def insert_file(self, row: Mapping[str, Any]) -> None:
        async with self.writing() as conn:
            await conn.execute(insert(files).values(**row))

    async def file(self, file_id: str) -> Row | None:
        async with self.reading() as conn:
            result = await conn.execute(select(files).where(files.c.id == file_id))
            return result.mappings().first()


class QuotaShort(Exception):
    """Raised inside the submit transaction to roll it back."""
