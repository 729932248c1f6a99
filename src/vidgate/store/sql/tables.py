"""The database schema, as SQLAlchemy Core tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

__all__ = [
    "api_keys",
    "audit_log",
    "cluster",
    "deliveries",
    "delivery_attempts",
    "events",
    "files",
    "ledger",
    "metadata",
    "tasks",
]

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("quota_seconds", Float, nullable=True),
    Column("reserved_seconds", Float, nullable=False, default=0.0),
    Column("used_seconds", Float, nullable=False, default=0.0),
    Column("created_at", DateTime(), nullable=False),
    Column("revoked_at", DateTime(), nullable=True),
    Column("webhook_secret", String(80), nullable=True),
    Column("admin", Boolean, nullable=False, default=False, server_default=false()),
    Column("max_in_flight", Integer, nullable=True),
    Column("max_submits_per_minute", Integer, nullable=True),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("model", String(100), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("provider", String(100), nullable=False),
    Column("request", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("error", JSON, nullable=True),
    Column("result", JSON, nullable=True),
    Column("usage", JSON, nullable=True),
    Column("reserved_seconds", Float, nullable=False),
    Column("callback_url", Text, nullable=True),
    Column("idempotency_key", String(255), nullable=True),
    Column("request_hash", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("upstream_id", String(200), nullable=True),
    Column("upstream_status", Text, nullable=True),
    Column("credential", String(100), nullable=True),
    Column("next_poll_at", DateTime(), nullable=True),
    Column("poll_failures", Integer, nullable=False, default=0, server_default="0"),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", DateTime(), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("updated_at", DateTime(), nullable=False),
    Column("started_at", DateTime(), nullable=True),
    Column("finished_at", DateTime(), nullable=True),
    Column("results_purged_at", DateTime(), nullable=True),
    Column("price", JSON, nullable=True),
    Column("billed_seconds", Float, nullable=True),
    Column("cost", Float, nullable=True),
    UniqueConstraint("owner_id", "idempotency_key", name="uq_tasks_idempotency"),
    Index("ix_tasks_owner_id", "owner_id", "id"),
    Index("ix_tasks_claim", "status", "lease_expires_at"),
    Index("ix_tasks_poll", "status", "next_poll_at"),
    Index("ix_tasks_provider", "status", "provider"),
    Index("ix_tasks_retention", "results_purged_at", "finished_at"),
    Index("ix_tasks_owner_created", "owner_id", "created_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(40), ForeignKey("tasks.id"), nullable=False),
    Column("owner_id", String(32), nullable=False),
    Column("type", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Integer, nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("state", JSON, nullable=True),
    Index("ix_events_task", "task_id", "id"),
    Index("ix_events_owner", "owner_id", "id"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("task_id", String(40), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("phase", String(6), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("created_at", DateTime(), nullable=False),
    UniqueConstraint("task_id", "phase", name="uq_ledger_task_phase"),
)

files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner_id", String(32), nullable=True),
    Column("purpose", String(20), nullable=False),
    Column("filename", Text, nullable=True),
    Column("content_type", Text, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", DateTime(), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False, unique=True),
    Column("task_id", String(40), nullable=False),
    Column("owner_id", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", DateTime(), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("delivered_at", DateTime(), nullable=True),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_task", "task_id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(40), ForeignKey("deliveries.id"), nullable=False),
    Column("attempted_at", DateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_delivery_attempts_delivery", "delivery_id", "id"),
)

cluster = Table(
    "cluster",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("secret_fingerprint", String(64), nullable=False),
    Column("canary_blob", String(80), nullable=False),
    Column("canary_sha256", String(64), nullable=False),
    Column("public_url", Text, nullable=True),
    Column("created_at", DateTime(), nullable=False),
)
"""One row: what every node sharing the database must agree on, written by the first."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(80), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(80), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Index("ix_audit_log_target", "target", "id"),
)
"""Every admin action: who (a key id, or `cli`), what, to which key or task, and when."""
