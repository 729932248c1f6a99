"""A fake task's status is a function of time: queued, processing, then its end."""

from __future__ import annotations

from vidgate.models import Status, TaskError, VideoRequest
from vidgate.testing import FakeTask, Timing
from vidgate.testing.tasks import requested_shape


def task(**changes: object) -> FakeTask:
    values: dict[str, object] = {
        "task_id": "t",
        "owner": "k",
        "request": VideoRequest(prompt="p"),
        "body": {},
        "submitted_at": 1000.0,
        "queue_seconds": 10.0,
        "render_seconds": 100.0,
        "width": 1280,
        "height": 720,
        "duration": 5,
    }
    values.update(changes)
    return FakeTask(**values)  # type: ignore[arg-type]


def test_timing_scales_render_time_from_the_duration() -> None:
    assert Timing().plan(5) == (1.0, 30.0)
    assert Timing(render_seconds=600, queue_seconds=60, time_scale=600).plan(5) == (0.1, 1.0)
    assert Timing(render_factor=2, time_scale=2).plan(10) == (0.5, 10.0)


def test_phases_follow_the_clock() -> None:
    fake = task()
    queued = fake.phase(1005)
    assert (queued.status, queued.progress, queued.started_at) == (Status.QUEUED, 0, None)
    running = fake.phase(1060)
    assert (running.status, running.progress, running.started_at) == (Status.PROCESSING, 50, 1010)
    done = fake.phase(2000)
    assert (done.status, done.progress, done.finished_at) == (Status.COMPLETED, 100, 1110)


def test_failures_end_the_render_as_failed() -> None:
    failing = task(failure=TaskError(code="InternalServerError", message="boom"))
    assert failing.phase(1109).status is Status.PROCESSING
    assert failing.phase(1110).status is Status.FAILED


def test_forced_outcomes_take_effect_when_they_happen() -> None:
    cancelled = task(outcome=Status.CANCELLED, ended_at=1005.0)
    phase = cancelled.phase(1006)
    assert (phase.status, phase.started_at, phase.finished_at) == (Status.CANCELLED, None, 1005)
    rushed = task(outcome=Status.COMPLETED, ended_at=1002.0)
    assert rushed.phase(1001).status is Status.QUEUED
    assert rushed.phase(1002).started_at == 1002


def test_requested_shapes() -> None:
    assert requested_shape(VideoRequest(size="832*480", duration=10)) == (832, 480, 10)
    assert requested_shape(VideoRequest(size="720x1280"), 4) == (720, 1280, 4)
    assert requested_shape(VideoRequest(resolution="1080P", ratio="9:16")) == (1080, 1920, 5)
    assert requested_shape(VideoRequest()) == (1280, 720, 5)
