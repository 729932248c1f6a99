"""Everything one fake upstream knows: its settings, faults, counters and tasks."""

from __future__ import annotations

import asyncio
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from vidgate.catalog import SIZES
from vidgate.models import (
    Result,
    Status,
    Task,
    TaskError,
    Usage,
    VideoRequest,
    detect_mode,
)
from vidgate.testing.counters import Counters
from vidgate.testing.errors import ErrorStyle
from vidgate.testing.faults import Faults
from vidgate.testing.media import sample_video
from vidgate.testing.results import result_url
from vidgate.testing.styles import STYLES
from vidgate.testing.tasks import FakeTask, Timing, requested_shape

__all__ = ["DAY", "Dialect", "FakeState"]

Dialect = Literal[
    "dashscope",
    "openai",
    "native",
    "kik",
    "nebula",
    "runway",
    "luma",
    "fal",
    "replicate",
    "kling",
    "minimax",
    "veo",
]
DAY = 24 * 3600.0
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi")
INPUT_VIDEO_SECONDS = 5.0
CANCELLED = TaskError(code="cancelled", message="Task cancelled by user.")


def _moment(unix: float | None) -> datetime | None:
    return None if unix is None else datetime.fromtimestamp(unix, UTC)


def _nominal(width: int, height: int) -> tuple[int | None, str | None]:
    for resolution, table in SIZES.items():
        for ratio, size in table.items():
            if size == (width, height):
                return int(resolution[:-1]), ratio
    return None, None


def _ratio(width: int, height: int) -> str:
    divisor = math.gcd(width, height) or 1
    return f"{width // divisor}:{height // divisor}"


def _input_video_seconds(request: VideoRequest) -> float:
    urls = [request.video_url or "", *(request.reference_urls or [])]
    has_video = any(url.split("?")[0].lower().endswith(VIDEO_SUFFIXES) for url in urls)
    return INPUT_VIDEO_SECONDS if has_video else 0.0


@dataclass
class FakeState:
    """The shared state of one fake server; the app reads it, tests change it from any thread."""

    dialect: Dialect
    timing: Timing = field(default_factory=Timing)
    faults: Faults = field(default_factory=Faults)
    counters: Counters = field(default_factory=Counters)
    keys: frozenset[str] | None = None
    """Accepted API keys; None accepts any non-empty key."""
    models: frozenset[str] | None = None
    """Accepted models; None accepts any."""
    result_ttl: float = DAY
    """Seconds a result URL stays valid after the task ends (24 h, as DashScope's)."""
    video: bytes | None = None
    """The result every task serves; None serves a real 160x96 one-second MP4."""
    match_request: bool = False
    """Render each result at the requested size and duration instead (slower)."""
    clock: Callable[[], float] = time.time
    list_snapshot: float = 0.0
    """Seconds a listing may answer from one snapshot of the tasks, as a server reading from
    an index or a replica does (the pages of one pass then agree, and each costs a page's
    work); 0 reads every listing live. DashScope's listing only."""
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    closing: threading.Event = field(default_factory=threading.Event)
    _tasks: dict[str, FakeTask] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def style(self) -> ErrorStyle:
        return STYLES[self.dialect]

    def now(self) -> float:
        return self.clock()

    def key_problem(self, key: str | None) -> str | None:
        """`missing` or `wrong` when a key is refused; None when it is accepted."""
        if not key:
            return "missing"
        if self.keys is not None and key not in self.keys:
            return "wrong"
        return None

    def add(
        self,
        task_id: str,
        owner: str,
        request: VideoRequest,
        body: dict[str, Any],
        *,
        default_duration: int = 5,
        request_id: str = "",
    ) -> FakeTask:
        """Accept a task now, planning its time and any failure from the current settings."""
        width, height, duration = requested_shape(request, default_duration)
        queue, render = self.timing.plan(duration)
        failure = self.faults.task_failure
        task = FakeTask(
            task_id=task_id,
            owner=owner,
            request=request,
            body=body,
            submitted_at=self.now(),
            queue_seconds=queue,
            render_seconds=render,
            width=width,
            height=height,
            duration=duration,
            request_id=request_id,
            failure=self.style.task_error(failure) if failure is not None else None,
        )
        with self._lock:
            self._tasks[task_id] = task
        return task

    def get(self, task_id: str, owner: str | None = None) -> FakeTask | None:
        """The task, if it exists and belongs to `owner` (when given)."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or (owner is not None and task.owner != owner):
            return None
        return task

    def tasks(self, owner: str | None = None) -> list[FakeTask]:
        """Tasks, newest first."""
        with self._lock:
            found = list(self._tasks.values())
        return [t for t in reversed(found) if owner is None or t.owner == owner]

    def remove(self, task_id: str) -> None:
        with self._lock:
            self._tasks.pop(task_id, None)

    def cancel(self, task: FakeTask, allowed: frozenset[Status]) -> bool:
        """Cancel the task if its status now is one of `allowed`."""
        with self._lock:
            now = self.now()
            if task.status(now) not in allowed:
                return False
            task.outcome, task.ended_at = Status.CANCELLED, now
            return True

    def finish(self, task_id: str, error: TaskError | None = None) -> FakeTask:
        """End a task now: completed, or failed with `error`. Raises KeyError if unknown."""
        with self._lock:
            task = self._tasks[task_id]
            task.failure = error
            task.outcome = Status.FAILED if error is not None else Status.COMPLETED
            task.ended_at = self.now()
            return task

    def download_problem(self, task: FakeTask) -> Literal["not_ready", "expired"] | None:
        """Why the task's result cannot be downloaded now, if it cannot."""
        now = self.now()
        phase = task.phase(now)
        if phase.status is not Status.COMPLETED or phase.finished_at is None:
            return "not_ready"
        if self.faults.expired_results or phase.finished_at + self.result_ttl < now:
            return "expired"
        return None

    def reset(self) -> None:
        """Forget every task, count and fault."""
        with self._lock:
            self._tasks.clear()
        self.counters.reset()
        self.faults.reset()

    def view(self, task: FakeTask, base_url: str) -> Task:
        """The task now, as the canonical model every dialect renders."""
        return self._render(task, base_url)

    def listed(self, task: FakeTask) -> Task:
        """The task now, as an item of a listing (no result URL): not a view of the task
        itself, which a subclass counting `view` calls leaves out."""
        return self._render(task, "")

    def _render(self, task: FakeTask, base_url: str) -> Task:
        phase = task.phase(self.now())
        request = task.request
        result = usage = error = None
        if phase.status is Status.COMPLETED and phase.finished_at is not None:
            expires = int(phase.finished_at + self.result_ttl)
            result = Result(
                video_url=result_url(base_url, self.secret, task.task_id, expires),
                expires_at=_moment(expires),
                duration=float(task.duration),
                width=task.width,
                height=task.height,
            )
            short_side, ratio = _nominal(task.width, task.height)
            given = _input_video_seconds(request)
            usage = Usage(
                duration=given + task.duration,
                input_video_duration=given,
                output_video_duration=task.duration,
                video_count=1,
                SR=short_side or min(task.width, task.height),
                ratio=request.ratio or ratio or _ratio(task.width, task.height),
            )
        elif phase.status is Status.FAILED:
            code, message = self.style.task_failure
            error = task.failure or TaskError(code=code, message=message)
        elif phase.status is Status.CANCELLED:
            error = CANCELLED
        return Task(
            task_id=task.task_id,
            status=phase.status,
            progress=phase.progress,
            model=task.model,
            mode=detect_mode(request),
            provider="fake",
            prompt=request.prompt,
            duration=task.duration,
            size=request.size or f"{task.width}*{task.height}",
            created_at=_moment(task.submitted_at),
            updated_at=_moment(phase.updated_at),
            started_at=_moment(phase.started_at),
            finished_at=_moment(phase.finished_at),
            result=result,
            error=error,
            usage=usage,
            callback_url=request.callback_url,
            metadata=request.metadata,
        )

    async def video_for(self, task: FakeTask) -> bytes:
        """The MP4 bytes this task's result serves."""
        if self.video is not None:
            return self.video
        if self.match_request:
            return await asyncio.to_thread(sample_video, task.width, task.height, task.duration)
        return await asyncio.to_thread(sample_video)
