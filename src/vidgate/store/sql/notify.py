"""PostgreSQL's NOTIFY and LISTEN for events: the channel, the payload, and the listening end.

Each event is announced on one channel with a small JSON payload (its id and what it routes
to), in the transaction that writes it, so it is heard once that commits and never if it rolls
back. Every node listens on an asyncpg connection of its own, outside the SQLAlchemy pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any

from vidgate.models import Status
from vidgate.records import Event, EventNotice
from vidgate.store.base import StoreUnavailable

if TYPE_CHECKING:
    import asyncpg

__all__ = ["CHANNEL", "LISTENER_NAME", "NoticeListener", "notice_payload", "read_payload"]

log = logging.getLogger("vidgate.events")
CHANNEL = "vidgate_events"
LISTENER_NAME = "vidgate event listener"
"""The `application_name` of every node's LISTEN connection, as `pg_stat_activity` shows it."""
MAX_PAYLOAD = 7999
"""PostgreSQL refuses a NOTIFY payload of 8000 bytes or more."""
PING_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
_LOST = object()


def notice_payload(event: Event) -> str:
    """The NOTIFY payload of ``event``: its id, task, owner, status and provider, as JSON."""
    notice = EventNotice.of(event)
    fields: dict[str, object] = {
        "id": notice.id,
        "task": notice.task_id,
        "owner": notice.owner_id,
        "status": notice.status.value,
    }
    if notice.provider is not None:
        fields["provider"] = notice.provider
    text = json.dumps(fields, separators=(",", ":"))
    if len(text.encode()) > MAX_PAYLOAD:
        # Without the provider a new task still wakes the waiters; workers find it by claiming.
        fields.pop("provider", None)
        text = json.dumps(fields, separators=(",", ":"))
    return text


def read_payload(payload: str) -> EventNotice | None:
    """The notice a payload carries; None for one this version cannot read."""
    try:
        fields = json.loads(payload)
        provider = fields.get("provider")
        return EventNotice(
            id=int(fields["id"]),
            task_id=str(fields["task"]),
            owner_id=str(fields["owner"]),
            status=Status(fields["status"]),
            provider=None if provider is None else str(provider),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class NoticeListener:
    """One asyncpg connection that LISTENs on the events channel while the block runs."""

    def __init__(self, connect_args: dict[str, Any]) -> None:
        self._connect_args = connect_args
        self._conn: asyncpg.Connection | None = None
        self._heard: asyncio.Queue[object] = asyncio.Queue()

    async def __aenter__(self) -> NoticeListener:
        args = {"timeout": CONNECT_TIMEOUT, **self._connect_args}
        settings = dict(args.pop("server_settings", None) or {})
        settings["application_name"] = LISTENER_NAME
        import asyncpg  # only PostgreSQL listens

        try:
            conn = await asyncpg.connect(**args, server_settings=settings)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailable(f"The database is unavailable: {type(exc).__name__}.") from exc
        self._conn = conn
        conn.add_termination_listener(self._lost)
        try:
            await conn.add_listener(CHANNEL, self._notified)
        except BaseException:
            conn.terminate()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        conn.remove_termination_listener(self._lost)
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                await conn.close()
        except Exception:
            conn.terminate()
        except BaseException:
            conn.terminate()
            raise

    @property
    def backend_pid(self) -> int | None:
        """The server process of the LISTEN connection (for `pg_terminate_backend`)."""
        return None if self._conn is None else self._conn.get_server_pid()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        notice = read_payload(payload)
        if notice is None:
            log.warning("unreadable event notice %r; reading the events table instead", payload)
        self._heard.put_nowait(notice)

    def _lost(self, _conn: object) -> None:
        self._heard.put_nowait(_LOST)

    async def next(self, timeout: float) -> EventNotice | None:
        """The next notice (see `store.base.EventNotices`); pings the server when quiet."""
        try:
            async with asyncio.timeout(timeout):
                item = await self._heard.get()
        except TimeoutError:
            await self._ping()
            return None
        if item is _LOST:
            raise StoreUnavailable("The database dropped the event listener's connection.")
        assert item is None or isinstance(item, EventNotice)
        return item

    async def _ping(self) -> None:
        import asyncpg

        conn = self._conn
        if conn is None or conn.is_closed():
            raise StoreUnavailable("The event listener's connection is closed.")
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                await conn.fetchval("SELECT 1")
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            with contextlib.suppress(Exception):
                conn.terminate()
            raise StoreUnavailable(
                f"The event listener's connection failed: {type(exc).__name__}."
            ) from exc
