"""Delivery attempts recorded in one batch, on every backend: each as `record_attempt` would."""

from __future__ import annotations

from datetime import timedelta

from stores import new_task
from vidgate.clock import utcnow
from vidgate.models import Mode, VideoRequest
from vidgate.records import AttemptReport, NewTask
from vidgate.service.keys import create_key
from vidgate.store import Store

LEASE = timedelta(seconds=30)


def hooked_task(owner: str) -> NewTask:
    """A task whose `task.queued` event has a webhook delivery."""
    request = VideoRequest(
        prompt="a boat", model="wan2.6-t2v", mode=Mode.T2V, webhook_events=["task.queued"]
    )
    return new_task(owner, request=request, callback_url="https://hooks.example/in")


async def test_a_batch_records_each_attempt_and_skips_leases_held_by_others(store: Store) -> None:
    key = await create_key(store, "k", None)
    task_ids = []
    for _ in range(3):
        task, _ = await store.insert_task(hooked_task(key.key_id))
        task_ids.append(task.id)
    mine = await store.claim_deliveries("d1", LEASE, 2)
    [theirs] = await store.claim_deliveries("d2", LEASE, 10)
    retry_at = utcnow() + timedelta(hours=1)
    await store.record_attempts(
        "d1",
        [
            (mine[0].id, AttemptReport(204, None, 3, "delivered")),
            (mine[1].id, AttemptReport(503, "receiver answered HTTP 503", 4, "pending", retry_at)),
            (theirs.id, AttemptReport(204, None, 5, "delivered")),  # d2 holds this lease
        ],
    )
    log = {d.id: d for t in task_ids for d in await store.deliveries_for(t)}
    delivered, retried, untouched = log[mine[0].id], log[mine[1].id], log[theirs.id]
    assert (delivered.status, delivered.attempts) == ("delivered", 1)
    assert delivered.delivered_at is not None
    assert [(a.status_code, a.duration_ms) for a in delivered.history] == [(204, 3)]
    assert (retried.status, retried.attempts, retried.delivered_at) == ("pending", 1, None)
    assert [a.error for a in retried.history] == ["receiver answered HTTP 503"]
    assert (untouched.status, untouched.attempts, untouched.history) == ("pending", 0, ())
    assert await store.claim_deliveries("d3", LEASE, 10) == [], "retry not due, d2 still holds"
    await store.record_attempts("d2", [(theirs.id, AttemptReport(204, None, 5, "delivered"))])
    assert [d.status for d in await store.deliveries_for(theirs.task_id)] == ["delivered"]
    await store.record_attempts("d1", [])
