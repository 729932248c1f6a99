"""The wait state machine: event stream, long-poll, fallback to polling, hints, deadline."""

from __future__ import annotations

import pytest

from vidgate.client import WaitTimeout
from vidgate.client.events import Event, EventDecoder
from vidgate.client.policy import PollPolicy
from vidgate.client.waiting import Step, Via, Waiter
from vidgate.models import Result, Status, Task


def task(status: Status, progress: int = 0, **extra: object) -> Task:
    return Task.model_validate({"task_id": "t1", "status": status, "progress": progress, **extra})


def test_long_poll_asks_for_the_window_and_shrinks_it_to_the_deadline() -> None:
    waiter = Waiter("t1", started=0.0, timeout=100.0, via=Via.LONG_POLL, poll_interval=15)
    assert waiter.next_step(0.0) == Step(0.0, Via.LONG_POLL, 15.0)
    assert waiter.next_step(95.0) == Step(0.0, Via.LONG_POLL, 5.0)
    with pytest.raises(WaitTimeout) as caught:
        waiter.next_step(100.0)
    assert caught.value.task_id == "t1"


def test_a_server_that_ignores_wait_drops_the_waiter_to_polling() -> None:
    waiter = Waiter(
        "t1", started=0.0, timeout=None, via=Via.LONG_POLL, last=task(Status.PROCESSING)
    )
    step = waiter.next_step(0.0)
    waiter.observe(task(Status.PROCESSING), {}, step=step, sent=0.0, now=0.05)
    assert waiter.via is Via.POLL
    assert waiter.next_step(0.1).delay == 0.0


def test_a_change_or_a_full_window_keeps_long_polling() -> None:
    waiter = Waiter("t1", started=0.0, timeout=None, via=Via.LONG_POLL, last=task(Status.QUEUED))
    step = waiter.next_step(0.0)
    waiter.observe(task(Status.PROCESSING), {}, step=step, sent=0.0, now=0.01)
    waiter.observe(task(Status.PROCESSING), {}, step=step, sent=0.0, now=60.0)
    assert waiter.via is Via.LONG_POLL
    assert waiter.polls == 2


def test_polling_uses_the_fixed_interval_else_the_hint_else_backoff() -> None:
    fixed = Waiter("t1", started=0.0, timeout=None, via=Via.POLL, poll_interval=10)
    step = fixed.next_step(0.0)
    assert step == Step(0.0, Via.POLL)
    fixed.observe(task(Status.PROCESSING), {"retry-after": "3"}, step=step, sent=0, now=0)
    assert fixed.next_step(0.0).delay == 10

    hinted = Waiter("t1", started=0.0, timeout=None, via=Via.POLL, policy=PollPolicy(cap=8))
    step = hinted.next_step(0.0)
    hinted.observe(
        task(Status.PROCESSING), {"openai-poll-after-ms": "2500"}, step=step, sent=0, now=0
    )
    assert hinted.next_step(0.0).delay == 2.5
    hinted.observe(task(Status.PROCESSING), {}, step=step, sent=0, now=0)
    assert 0.75 <= hinted.next_step(0.0).delay <= 2.0


def test_the_last_sleep_is_cut_to_the_deadline() -> None:
    waiter = Waiter("t1", started=0.0, timeout=12.0, via=Via.POLL, poll_interval=10)
    step = waiter.next_step(0.0)
    waiter.observe(task(Status.PROCESSING), {}, step=step, sent=0, now=0)
    assert waiter.next_step(5.0).delay == 7.0
    error = waiter.timed_out(12.0)
    assert (error.polls, error.task) == (1, task(Status.PROCESSING))
    assert "timed out after 12s (1 polls, last status: processing)" in str(error)


def test_events_move_the_task_on_and_skip_replayed_history() -> None:
    waiter = Waiter(
        "t1", started=0.0, timeout=None, via=Via.EVENTS, last=task(Status.PROCESSING, 40)
    )
    old = Event("3", "task.progress", {"status": "processing", "progress": 20})
    assert waiter.observe_event(old) is None
    assert waiter.cursor == "3"
    newer = waiter.observe_event(
        Event("9", "task.progress", {"status": "processing", "progress": 60})
    )
    assert newer is not None and newer.progress == 60
    final = {"task_id": "t1", "status": "completed", "progress": 100, "result": {"video_url": "u"}}
    done = waiter.observe_event(
        Event("10", "task.completed", {"status": "completed", "task": final})
    )
    assert done is not None and done.result == Result(video_url="u")


def test_a_completion_event_without_the_task_leads_to_one_read() -> None:
    waiter = Waiter("t1", started=0.0, timeout=None, via=Via.EVENTS)
    assert waiter.observe_event(Event("1", "task.completed", {"status": "completed"})) is None
    assert waiter.via is Via.LONG_POLL


def test_broken_streams_fall_back_to_long_polling() -> None:
    waiter = Waiter("t1", started=0.0, timeout=None, via=Via.EVENTS)
    waiter.stream_broke()
    assert waiter.via is Via.EVENTS
    waiter.stream_broke()
    assert waiter.via is Via.LONG_POLL


def test_the_decoder_reads_events_and_ignores_heartbeats() -> None:
    decoder = EventDecoder()
    lines = ["retry: 2000", ": connected", "", "id: 4", "event: task.queued"]
    lines += ['data: {"status": "queued",', 'data: "progress": 0}', ""]
    events = [e for e in map(decoder.feed, lines) if e is not None]
    assert events == [Event("4", "task.queued", {"status": "queued", "progress": 0})]
