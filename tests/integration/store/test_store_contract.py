"""The store contract, run against every backend: SQLite, PostgreSQL and in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, timedelta

import pytest

from stores import SHAPE, new_task
from vidgate.clock import utcnow
from vidgate.models import Status, TaskError, Usage, VideoRequest
from vidgate.records import (
    AttemptReport,
    FileRecord,
    StoredInput,
    StoredResult,
    TaskQuery,
    Transition,
    UpstreamAcceptance,
)
from vidgate.service.keys import create_key
from vidgate.store import QuotaShort, Store

LEASE = timedelta(seconds=30)


async def test_opening_twice_is_harmless(store: Store) -> None:
    await store.open()


async def test_a_task_reads_back_as_it_was_submitted(store: Store) -> None:
    key = await create_key(store, "k", None)
    inputs = (
        StoredInput("reference_urls", "input_a.png", "image"),
        StoredInput("reference_urls", "input_b.mp4", "video", 3.5),
        StoredInput("video_url", "input_c.mp4", "video", 2.0),
    )
    request = VideoRequest(prompt="ünïcode ✓", negative_prompt="blur", seed=3, metadata={"a": 1})
    submitted = new_task(key.key_id, inputs=inputs, request=request, callback_url="https://x.io")
    stored, created = await store.insert_task(submitted)
    assert created
    again = await store.task(stored.id)
    assert again == stored
    assert stored.request == request
    assert stored.shape == SHAPE and stored.seed == 7
    assert stored.inputs == inputs
    assert [i.blob for i in stored.inputs_of("reference_urls")] == ["input_a.png", "input_b.mp4"]
    assert stored.status is Status.QUEUED and stored.progress == 0 and stored.attempts == 0
    assert stored.callback_url == "https://x.io"


async def test_a_key_sees_only_its_own_tasks(store: Store) -> None:
    mine = await create_key(store, "mine", None)
    other = await create_key(store, "other", None)
    task, _ = await store.insert_task(new_task(mine.key_id))
    assert await store.task(task.id, mine.key_id) is not None
    assert await store.task(task.id, other.key_id) is None
    assert await store.find_tasks(other.key_id, TaskQuery(), limit=10) == []
    assert await store.count_tasks(other.key_id, TaskQuery()) == 0


async def test_quota_is_checked_and_reserved_atomically(store: Store) -> None:
    key = await create_key(store, "k", 12)
    outcomes = await asyncio.gather(
        *(store.insert_task(new_task(key.key_id, 5)) for _ in range(5)), return_exceptions=True
    )
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(accepted) == 2
    assert all(isinstance(o, QuotaShort) for o in outcomes if isinstance(o, BaseException))
    found = await store.key_by_id(key.key_id)
    assert found is not None and found.reserved_seconds == 10 and found.balance == 2
    assert len(await store.find_tasks(key.key_id, TaskQuery(), limit=10)) == 2


@pytest.mark.parametrize("rounds", [range(6)])
async def test_racing_terminal_transitions_settle_or_refund_once(
    store: Store, rounds: range
) -> None:
    key = await create_key(store, "k", 1000)
    expected_used = 0.0
    for _ in rounds:
        task, _ = await store.insert_task(new_task(key.key_id, 5))
        [claimed] = await store.claim("local", "w1", LEASE, 1, 3)
        assert claimed.id == task.id
        results = await asyncio.gather(
            store.transition(
                task.id,
                Transition(
                    expected=[Status.PROCESSING],
                    to=Status.COMPLETED,
                    worker="w1",
                    settle_seconds=4.0,
                ),
            ),
            *(
                store.transition(
                    task.id,
                    Transition(expected=[Status.QUEUED, Status.PROCESSING], to=Status.CANCELLED),
                )
                for _ in range(3)
            ),
            store.transition(task.id, Transition(expected=[Status.PROCESSING], to=Status.FAILED)),
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        if winners[0].status is Status.COMPLETED:
            expected_used += 4.0
            assert winners[0].progress == 100
        for status in (Status.QUEUED, Status.PROCESSING):
            assert (
                await store.transition(task.id, Transition(expected=[status], to=Status.FAILED))
                is None
            )
        with pytest.raises(ValueError, match="terminal"):
            await store.transition(
                task.id, Transition(expected=[Status.COMPLETED], to=Status.FAILED)
            )

    ledger = await store.ledger_for(key.key_id)
    reserves = [e for e in ledger if e.kind == "reserve"]
    closes = [e for e in ledger if e.phase == "close"]
    assert len(reserves) == len(closes) == len(rounds)
    found = await store.key_by_id(key.key_id)
    assert found is not None
    assert found.reserved_seconds == 0
    assert found.used_seconds == expected_used
    assert sum(e.seconds for e in closes if e.kind == "settle") == expected_used


async def test_a_transition_keeps_its_outcome(store: Store) -> None:
    key = await create_key(store, "k", None)
    task, _ = await store.insert_task(new_task(key.key_id))
    await store.claim("local", "w1", LEASE, 1, 3)
    result = StoredResult("t.0.mp4", 5.0, 832, 480, 24, 1234, "https://up.example/v.mp4")
    usage = Usage(
        duration=5.0,
        input_video_duration=0.0,
        output_video_duration=5.0,
        video_count=1,
        SR=480,
        ratio="16:9",
    )
    long_status = "RUNNING_" + "x" * 200
    done = await store.transition(
        task.id,
        Transition(
            expected=[Status.PROCESSING],
            to=Status.COMPLETED,
            worker="w1",
            result=result,
            usage=usage,
            upstream_status=long_status,
            settle_seconds=5.0,
        ),
    )
    assert done is not None
    assert (done.result, done.usage, done.upstream_status) == (result, usage, long_status)
    assert done.finished_at is not None and done.lease_owner is None
    assert await store.task(task.id) == done


async def test_only_the_lease_holder_may_write(store: Store) -> None:
    key = await create_key(store, "k", None)
    task, _ = await store.insert_task(new_task(key.key_id))
    await store.claim("local", "w1", LEASE, 1, 3)
    assert not await store.set_progress(task.id, "w2", 10)
    assert not await store.renew(task.id, "w2", LEASE)
    assert (
        await store.transition(
            task.id, Transition(expected=[Status.PROCESSING], to=Status.FAILED, worker="w2")
        )
        is None
    )
    assert await store.set_progress(task.id, "w1", 10)
    assert not await store.set_progress(task.id, "w1", 10), "progress only rises"
    assert await store.renew(task.id, "w1", LEASE)


async def test_expired_leases_are_reclaimed_and_attempts_capped(store: Store) -> None:
    key = await create_key(store, "k", None)
    task, _ = await store.insert_task(new_task(key.key_id))
    expired = timedelta(seconds=-1)
    [first] = await store.claim("local", "w1", expired, 1, 2)
    assert first.attempts == 1
    [second] = await store.claim("local", "w2", expired, 1, 2)
    assert second.id == task.id and second.attempts == 2
    assert await store.renew(task.id, "w1", LEASE) is False
    assert await store.claim("local", "w3", LEASE, 1, 2) == []
    assert [t.id for t in await store.exhausted(2)] == [task.id]


async def test_claims_respect_provider_order_and_limit(store: Store) -> None:
    key = await create_key(store, "k", None)
    ids = [(await store.insert_task(new_task(key.key_id)))[0].id for _ in range(3)]
    await store.insert_task(new_task(key.key_id, provider="elsewhere"))
    first = await store.claim("local", "w1", LEASE, 2, 3)
    assert [t.id for t in first] == ids[:2]
    assert all(t.status is Status.PROCESSING and t.lease_owner == "w1" for t in first)
    assert await store.in_flight("local") == 2
    assert [t.id for t in await store.claim("local", "w2", LEASE, 5, 3)] == ids[2:]


async def test_upstream_tasks_are_polled_when_due(store: Store) -> None:
    key = await create_key(store, "k", None)
    task, _ = await store.insert_task(new_task(key.key_id, provider="up"))
    await store.claim("up", "w1", LEASE, 1, 3)
    due = utcnow() - timedelta(seconds=1)
    pinned = await store.record_upstream(task.id, "w1", UpstreamAcceptance("up", "u-1", "0", due))
    assert pinned
    assert await store.claim("up", "w2", timedelta(seconds=-1), 1, 3) == [], "never resubmitted"
    [polled] = await store.claim_polls(["up"], "p1", LEASE, 10)
    assert (polled.upstream_id, polled.credential, polled.lease_owner) == ("u-1", "0", "p1")
    assert await store.claim_polls(["up"], "p2", LEASE, 10) == [], "leased to p1"
    later = utcnow() + timedelta(hours=1)
    assert await store.reschedule(
        task.id, "p1", next_poll_at=later, upstream_status="RUNNING", failed_poll=True
    )
    again = await store.task(task.id)
    assert again is not None
    assert (again.poll_failures, again.upstream_status, again.lease_owner) == (1, "RUNNING", None)
    assert await store.claim_polls(["up"], "p2", LEASE, 10) == [], "not due yet"


async def test_running_upstream_lists_the_tasks_a_provider_runs(store: Store) -> None:
    key = await create_key(store, "k", None)
    due = utcnow() + timedelta(seconds=30)
    running, queued, ended, elsewhere = [
        (await store.insert_task(new_task(key.key_id, provider=name)))[0]
        for name in ("up", "up", "up", "other")
    ]
    await store.claim("up", "w1", LEASE, 2, 3)
    await store.claim("other", "w1", LEASE, 1, 3)
    for task, upstream_id in ((running, "u-1"), (elsewhere, "u-9")):
        accepted = UpstreamAcceptance(task.provider, upstream_id, "1", due)
        assert await store.record_upstream(task.id, "w1", accepted)
    [claimed] = await store.claim("up", "w2", LEASE, 1, 3)
    assert claimed.id == ended.id
    assert await store.record_upstream(ended.id, "w2", UpstreamAcceptance("up", "u-2", "0", due))
    assert await store.transition(ended.id, Transition((Status.PROCESSING,), Status.FAILED))
    [ref] = await store.running_upstream("up")
    assert (ref.task_id, ref.upstream_id, ref.credential) == (running.id, "u-1", "1")
    assert ref.next_poll_at == due
    assert abs((utcnow() - ref.started_at).total_seconds()) < 5
    assert queued.id not in {r.task_id for r in await store.running_upstream("up")}


async def test_idempotency_key_is_unique_per_owner(store: Store) -> None:
    key = await create_key(store, "k", None)
    other = await create_key(store, "other", None)
    first, created = await store.insert_task(new_task(key.key_id, idempotency_key="a"))
    again, created_again = await store.insert_task(new_task(key.key_id, idempotency_key="a"))
    theirs, theirs_created = await store.insert_task(new_task(other.key_id, idempotency_key="a"))
    assert created and not created_again and theirs_created
    assert again.id == first.id != theirs.id
    assert await store.task_by_idempotency(key.key_id, "a") == first
    found = await store.key_by_id(key.key_id)
    assert found is not None and found.reserved_seconds == 5, "a replay reserves nothing"


async def test_listing_pages_filters_and_counts(store: Store) -> None:
    key = await create_key(store, "k", None)
    ids = [(await store.insert_task(new_task(key.key_id)))[0].id for _ in range(5)]
    await store.insert_task(new_task(key.key_id, model="other-model"))
    await store.transition(ids[1], Transition(expected=[Status.QUEUED], to=Status.CANCELLED))
    newest = await store.find_tasks(key.key_id, TaskQuery(model="wan2.6-t2v"), limit=3)
    assert [t.id for t in newest] == ids[::-1][:3]
    after = TaskQuery(model="wan2.6-t2v", after=newest[-1].id)
    assert [t.id for t in await store.find_tasks(key.key_id, after, limit=3)] == ids[:2][::-1]
    oldest = TaskQuery(model="wan2.6-t2v", ascending=True)
    assert [t.id for t in await store.find_tasks(key.key_id, oldest, limit=2, offset=1)] == ids[1:3]
    cancelled = TaskQuery(status=Status.CANCELLED)
    assert [t.id for t in await store.find_tasks(key.key_id, cancelled, limit=9)] == [ids[1]]
    assert await store.count_tasks(key.key_id, TaskQuery()) == 6
    assert await store.count_tasks(key.key_id, TaskQuery(task_id=ids[2])) == 1
    created = await store.task(ids[2])
    assert created is not None
    window = TaskQuery(
        created_from=created.created_at.replace(tzinfo=UTC), created_to=created.created_at
    )
    assert [t.id for t in await store.find_tasks(key.key_id, window, limit=9)] == [ids[2]]


async def test_every_change_is_an_event_with_the_state_it_left(store: Store) -> None:
    key = await create_key(store, "k", None)
    heard: list[int] = []
    store.listeners.append(lambda event: heard.append(event.id))
    before = await store.last_event_id()
    task, _ = await store.insert_task(new_task(key.key_id))
    await store.claim("local", "w1", LEASE, 1, 3)
    await store.set_progress(task.id, "w1", 40)
    await store.transition(
        task.id,
        Transition(
            expected=[Status.PROCESSING],
            to=Status.FAILED,
            worker="w1",
            error=TaskError(code="render_failed", message="boom"),
        ),
    )
    events = await store.events_after(key.key_id, before)
    assert [e.type for e in events] == [
        "task.queued",
        "task.processing",
        "task.progress",
        "task.failed",
    ]
    assert [e.id for e in events] == sorted(e.id for e in events) == heard
    states = [e.state for e in events]
    assert all(state is not None for state in states)
    assert [(s.status, s.progress) for s in states if s is not None] == [
        (Status.QUEUED, 0),
        (Status.PROCESSING, 0),
        (Status.PROCESSING, 40),
        (Status.FAILED, 40),
    ]
    final = states[-1]
    assert final is not None and final.error == TaskError(code="render_failed", message="boom")
    assert [e.id for e in await store.events_since(before)] == heard
    assert await store.last_event_id() == heard[-1]
    assert await store.events_after(key.key_id, before, task_id="no-such-task") == []


async def test_deliveries_follow_the_events_a_task_asked_for(store: Store) -> None:
    key = await create_key(store, "k", None)
    request = VideoRequest(prompt="x", webhook_events=["task.queued", "task.completed"])
    task, _ = await store.insert_task(
        new_task(key.key_id, callback_url="https://hooks.example/in", request=request)
    )
    await store.claim("local", "w1", LEASE, 1, 3)
    await store.transition(
        task.id, Transition(expected=[Status.PROCESSING], to=Status.COMPLETED, worker="w1")
    )
    due = await store.claim_deliveries("d1", LEASE, 10)
    assert [d.event.type for d in due] == ["task.queued", "task.completed"]
    assert due[0].event.state is not None and due[0].event.state.status is Status.QUEUED
    assert await store.claim_deliveries("d2", LEASE, 10) == [], "leased to d1"
    first, second = due
    await store.record_attempt(first.id, "d1", AttemptReport(200, None, 5, "delivered"))
    retry_at = utcnow() + timedelta(hours=1)
    refused = AttemptReport(503, "receiver answered HTTP 503", 7, "pending", retry_at)
    await store.record_attempt(second.id, "d1", refused)
    await store.record_attempt(second.id, "d2", AttemptReport(200, None, 1, "delivered"))
    log = await store.deliveries_for(task.id)
    assert [(d.status, d.attempts) for d in log] == [("delivered", 1), ("pending", 1)]
    assert log[0].delivered_at is not None and log[1].delivered_at is None
    assert [(a.status_code, a.error) for a in log[1].history] == [
        (503, "receiver answered HTTP 503")
    ]
    assert await store.claim_deliveries("d3", LEASE, 10) == [], "not due until retry_at"

    assert await store.redeliver(task.id, second.id), "sent again now, not at retry_at"
    [again] = await store.claim_deliveries("d3", LEASE, 10)
    assert (again.id, again.event.type) == (second.id, "task.completed")
    assert not await store.redeliver("another-task", first.id)
    assert not await store.redeliver(task.id, "msg_nope")
    kept = {d.id: d for d in await store.deliveries_for(task.id)}
    assert [a.status_code for a in kept[second.id].history] == [503], "past attempts are kept"


async def test_keys_files_and_secrets_read_back(store: Store) -> None:
    key = await create_key(store, "k", 30)
    found = await store.key_by_id(key.key_id)
    assert found is not None and found.quota_seconds == 30 and found.webhook_secret
    assert await store.key_by_hash(found.key_hash) == found
    assert [k.id for k in await store.list_keys()] == [key.key_id]
    assert await store.set_webhook_secret(key.key_id, "whsec_other") == found.webhook_secret
    created = (utcnow() - timedelta(seconds=2)).replace(microsecond=123456)
    upload = FileRecord(
        id="file_1.png",
        owner_id=key.key_id,
        purpose="input",
        filename="n" * 400 + ".png",
        content_type="image/png; " + "p=" * 100,
        bytes=3,
        sha256="0" * 64,
        created_at=created,
    )
    await store.insert_file(upload)
    assert await store.file("file_1.png") == upload
    assert await store.file("missing") is None


async def test_times_stay_naive_utc_to_the_microsecond(store: Store) -> None:
    key = await create_key(store, "k", None)
    created = (utcnow() - timedelta(seconds=2)).replace(microsecond=123456)
    task, _ = await store.insert_task(new_task(key.key_id, created_at=created))
    assert task.created_at == created and task.created_at.tzinfo is None
    [claimed] = await store.claim("local", "w1", LEASE, 1, 3)
    assert claimed.lease_expires_at is not None and claimed.started_at is not None
    assert claimed.lease_expires_at > claimed.started_at >= created


async def test_the_reaper_finds_overdue_tasks(store: Store) -> None:
    key = await create_key(store, "k", None)
    old = utcnow() - timedelta(hours=2)
    stale, _ = await store.insert_task(new_task(key.key_id, created_at=old))
    await store.insert_task(new_task(key.key_id))
    done, _ = await store.insert_task(new_task(key.key_id, created_at=old))
    await store.transition(done.id, Transition(expected=[Status.QUEUED], to=Status.CANCELLED))
    found = await store.overdue(utcnow() - timedelta(hours=1))
    assert [t.id for t in found] == [stale.id]


async def test_claims_racing_cancels_take_each_task_once(
    store: Store, open_backend: Callable[[], Store]
) -> None:
    key = await create_key(store, "k", 100)
    ids = [(await store.insert_task(new_task(key.key_id, 2)))[0].id for _ in range(6)]
    other = open_backend()
    try:
        claims = asyncio.gather(
            store.claim("local", "w1", LEASE, 6, 3), other.claim("local", "w2", LEASE, 6, 3)
        )
        cancels = asyncio.gather(
            *(
                store.transition(task_id, Transition(expected=[Status.QUEUED], to=Status.CANCELLED))
                for task_id in reversed(ids)
            )
        )
        batches, outcomes = await asyncio.wait_for(asyncio.gather(claims, cancels), 60)
    finally:
        if other is not store:
            await other.close()
    claimed = [task.id for batch in batches for task in batch]
    cancelled = [task.id for task in outcomes if task is not None]
    assert sorted(claimed + cancelled) == sorted(ids)
    for task_id in ids:
        found = await store.task(task_id)
        assert found is not None
        expected = Status.PROCESSING if task_id in claimed else Status.CANCELLED
        assert found.status is expected
    found_key = await store.key_by_id(key.key_id)
    assert found_key is not None and found_key.reserved_seconds == 2 * len(claimed)


async def test_a_released_task_is_queued_again_without_counting_the_attempt(store: Store) -> None:
    key = await create_key(store, "k", 10)
    task, _ = await store.insert_task(new_task(key.key_id))
    heard: list[Status] = []
    store.listeners.append(lambda event: heard.append(event.status))
    [claimed] = await store.claim("local", "w1", LEASE, 1, 3)
    assert await store.set_progress(task.id, "w1", 40)
    assert not await store.release(task.id, "w2"), "only the lease holder may release"
    assert await store.release(task.id, "w1")
    released = await store.task(task.id)
    assert released is not None
    assert (released.status, released.lease_owner, released.lease_expires_at) == (
        Status.QUEUED,
        None,
        None,
    )
    assert (released.attempts, released.progress) == (claimed.attempts - 1, 0)
    assert heard[-1] is Status.QUEUED
    assert not await store.release(task.id, "w1"), "no longer held"
    [again] = await store.claim("local", "w2", LEASE, 1, 3)
    assert (again.id, again.attempts, again.lease_owner) == (task.id, 1, "w2")
    due = utcnow()
    accepted = UpstreamAcceptance("local", "u-1", "0", due)
    assert await store.record_upstream(task.id, "w2", accepted)
    assert not await store.release(task.id, "w2"), "an accepted upstream task stays pinned"
    found_key = await store.key_by_id(key.key_id)
    assert found_key is not None and found_key.reserved_seconds == 5
