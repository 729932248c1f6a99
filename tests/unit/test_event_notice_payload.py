"""The NOTIFY payload of an event: what routes its wake-ups, always under PostgreSQL's limit."""

from __future__ import annotations

from vidgate.clock import utcnow
from vidgate.models import Status
from vidgate.records import Event, EventNotice, TaskState
from vidgate.store.sql.notify import MAX_PAYLOAD, notice_payload, read_payload


def queued(provider: str) -> Event:
    now = utcnow()
    state = TaskState(status=Status.QUEUED, progress=0, provider=provider, updated_at=now)
    return Event(41, "task-1", "key-1", "task.queued", Status.QUEUED, 0, now, state)


def test_a_payload_reads_back_as_the_notice_of_its_event() -> None:
    event = queued("local")
    assert read_payload(notice_payload(event)) == EventNotice(
        41, "task-1", "key-1", Status.QUEUED, "local"
    )


def test_a_payload_too_long_for_notify_drops_the_provider() -> None:
    payload = notice_payload(queued("p" * 9000))
    assert len(payload.encode()) <= MAX_PAYLOAD
    assert read_payload(payload) == EventNotice(41, "task-1", "key-1", Status.QUEUED, None)


def test_an_unreadable_payload_reads_as_none() -> None:
    for payload in ("", "{}", "[1]", '{"id": "x"}', '{"id":1,"task":"t","owner":"o","status":"?"}'):
        assert read_payload(payload) is None
