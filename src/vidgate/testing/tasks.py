"""A fake task's life, computed from the wall clock: queued, running, then done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vidgate.catalog import SIZES
from vidgate.models import Status, TaskError, VideoRequest

__all__ = ["FakeTask", "Phase", "Timing", "requested_shape"]


@dataclass
class Timing:
    """How long fake tasks take. Change it at any time; it applies to later submits.

    A task waits `queue_seconds`, then renders for `render_seconds`, or, when that is None,
    for its requested duration times `render_factor`. Both are divided by `time_scale`, so
    `time_scale=600` finishes a 10-minute task in one second.
    """

    queue_seconds: float = 1.0
    render_seconds: float | None = None
    render_factor: float = 6.0
    time_scale: float = 1.0

    def plan(self, duration: int) -> tuple[float, float]:
        """Wall-clock seconds in the queue and rendering, for a video of `duration` seconds."""
        render = self.render_seconds
        if render is None:
            render = duration * self.render_factor
        scale = self.time_scale if self.time_scale > 0 else 1.0
        return max(0.0, self.queue_seconds) / scale, max(0.0, render) / scale


@dataclass(frozen=True)
class Phase:
    """Where a task is at one moment, as unix times."""

    status: Status
    progress: int
    started_at: float | None
    finished_at: float | None
    updated_at: float


def requested_shape(request: VideoRequest, default_duration: int = 5) -> tuple[int, int, int]:
    """Width, height and seconds a request asks for (`W*H` or `WxH`, else resolution and ratio)."""
    width, height = 1280, 720
    size = (request.size or "").replace("x", "*")
    parts = size.split("*")
    if len(parts) == 2 and all(part.isdigit() for part in parts):
        width, height = int(parts[0]), int(parts[1])
    else:
        table = SIZES.get((request.resolution or "720P").upper(), SIZES["720P"])
        width, height = table.get(request.ratio or "16:9", next(iter(table.values())))
    return width, height, request.duration or default_duration


@dataclass
class FakeTask:
    """One task a fake upstream accepted. Its status is a function of time, never stored."""

    task_id: str
    owner: str
    request: VideoRequest
    body: dict[str, Any]
    """The create body exactly as received (form fields for multipart)."""
    submitted_at: float
    queue_seconds: float
    render_seconds: float
    width: int
    height: int
    duration: int
    request_id: str = ""
    failure: TaskError | None = None
    """Set at submit from `Faults.task_failure`: the task fails when its render would end."""
    outcome: Status | None = None
    """A terminal status forced by cancel, `complete_now` or `fail_now`, from `ended_at` on."""
    ended_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.request.model or ""

    @property
    def starts_at(self) -> float:
        return self.submitted_at + self.queue_seconds

    @property
    def due_at(self) -> float:
        """When the task ends on its own."""
        return self.starts_at + self.render_seconds

    def end_at(self) -> tuple[float, Status]:
        """When the task ends and how, forced or on its own."""
        if self.outcome is not None and self.ended_at is not None:
            return self.ended_at, self.outcome
        return self.due_at, Status.FAILED if self.failure is not None else Status.COMPLETED

    def _progress(self, now: float) -> int:
        if now < self.starts_at:
            return 0
        if self.render_seconds <= 0:
            return 99
        return min(99, int(100 * (now - self.starts_at) / self.render_seconds))

    def phase(self, now: float) -> Phase:
        """The task's status, progress and times at unix time `now`."""
        end, outcome = self.end_at()
        if now >= end:
            started: float | None = min(self.starts_at, end)
            if outcome is Status.CANCELLED and self.starts_at > end:
                started = None
            progress = 100 if outcome is Status.COMPLETED else self._progress(end)
            return Phase(outcome, progress, started, end, end)
        if now < self.starts_at:
            return Phase(Status.QUEUED, 0, None, None, self.submitted_at)
        return Phase(Status.PROCESSING, self._progress(now), self.starts_at, None, self.starts_at)

    def status(self, now: float) -> Status:
        """`phase(now).status`, without the rest of the phase."""
        end, outcome = self.end_at()
        if now >= end:
            return outcome
        return Status.QUEUED if now < self.starts_at else Status.PROCESSING
