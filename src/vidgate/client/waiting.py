"""Waiting for a task: what to ask next and when, as a state machine that does no I/O.

On a gateway the waiter follows the task's event stream: one request, answered as each change
happens, replayed from `Last-Event-ID` after a reconnect. Without a stream it long-polls
(`?wait=N`: the answer comes at once when the task ends, at its first change otherwise). A
server that ignores `wait` (it answers at once with nothing new) drops it to polling. Polling
waits the caller's fixed interval, else the server's hint (`openai-poll-after-ms`,
`Retry-After`, read again from every response), else capped exponential backoff with jitter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from vidgate.client.errors import TaskCancelled, TaskFailed, WaitTimeout
from vidgate.client.events import Event, apply_event
from vidgate.models import Status, Task
from vidgate.retry import PollPolicy, poll_after

__all__ = ["DEFAULT_WINDOW", "MAX_LONG_POLL", "Step", "Via", "Waiter", "outcome"]

DEFAULT_WINDOW = 60.0
"""Seconds one stream connection or long-poll lasts when the caller names no interval."""
MAX_LONG_POLL = 120.0
"""The longest `?wait=` a gateway accepts."""
STREAM_FAILURES = 2
"""Stream connections in a row that may break without news before the waiter long-polls."""


class Via(Enum):
    """How the next status request is made."""

    EVENTS = "events"
    LONG_POLL = "long_poll"
    POLL = "poll"


@dataclass(frozen=True)
class Step:
    """The next status request: sleep `delay` seconds, then ask `via`, for up to `window` s."""

    delay: float
    via: Via
    window: float | None = None


class Waiter:
    """The state of one wait for one task."""

    def __init__(
        self,
        task_id: str,
        *,
        started: float,
        timeout: float | None,
        via: Via,
        poll_interval: float | None = None,
        policy: PollPolicy | None = None,
        last: Task | None = None,
    ) -> None:
        self.task_id = task_id
        self.started = started
        self.deadline = math.inf if timeout is None else started + timeout
        self.via = via
        self.window = poll_interval or DEFAULT_WINDOW
        self.interval = poll_interval
        self.policy = policy or PollPolicy()
        self.polls = 0
        self.last = last
        self.cursor: str | None = None
        self._hint: float | None = None
        self._polled = 0
        self._stream_failures = 0

    def next_step(self, now: float) -> Step:
        """What to do next; raises WaitTimeout once the deadline has passed."""
        remaining = self.deadline - now
        if remaining <= 0:
            raise self.timed_out(now)
        if self.via is Via.EVENTS:
            return Step(0.0, Via.EVENTS, min(self.window, remaining))
        if self.via is Via.LONG_POLL:
            return Step(0.0, Via.LONG_POLL, round(min(self.window, remaining, MAX_LONG_POLL), 3))
        if self._polled == 0:
            delay = 0.0
        elif self.interval is not None:
            delay = self.interval
        else:
            delay = self.policy.delay(self._polled - 1, self._hint)
        return Step(min(delay, remaining), Via.POLL)

    def observe(
        self, task: Task, headers: Mapping[str, str], *, step: Step, sent: float, now: float
    ) -> None:
        """Take in one answer to the status request `step`, sent at `sent`."""
        self.polls += 1
        previous, self.last = self.last, task
        self._hint = poll_after(headers)
        if step.via is Via.POLL:
            self._polled += 1
        elif step.via is Via.LONG_POLL and previous is not None and not task.status.terminal:
            same = (task.status, task.progress) == (previous.status, previous.progress)
            if same and step.window and now - sent < step.window / 2:
                self.via = Via.POLL

    # the event stream

    def connected(self) -> None:
        """A stream connection was opened (it counts as a request)."""
        self.polls += 1

    def no_stream(self) -> None:
        """The server has no event stream for this task; long-poll instead."""
        self.via = Via.LONG_POLL

    def stream_broke(self) -> None:
        """A stream connection ended without the task ending."""
        self._stream_failures += 1
        if self._stream_failures >= STREAM_FAILURES:
            self.via = Via.LONG_POLL

    def observe_event(self, event: Event) -> Task | None:
        """The task as the event leaves it, or None when the event tells nothing new."""
        if event.id is not None:
            self.cursor = event.id
        task = apply_event(self.task_id, self.last, event)
        if task is None or not _ahead(task, self.last):
            return None
        self._stream_failures = 0
        self.last = task
        if task.status is Status.COMPLETED and task.result is None:
            # Completed without the result in the event: one plain read fetches it.
            self.via = Via.LONG_POLL
            return None
        return task

    def expired(self, now: float) -> bool:
        return now >= self.deadline

    def elapsed(self, now: float) -> float:
        return now - self.started

    def timed_out(self, now: float) -> WaitTimeout:
        return WaitTimeout(self.task_id, self.last, elapsed=self.elapsed(now), polls=self.polls)


def _rank(task: Task) -> tuple[int, int]:
    stage = 2 if task.status.terminal else 1 if task.status is Status.PROCESSING else 0
    return stage, task.progress


def _ahead(task: Task, known: Task | None) -> bool:
    """Whether an event moves the task on from what is known (a replay may repeat history)."""
    return known is None or _rank(task) > _rank(known)


def outcome(task: Task) -> Task:
    """The task when it completed; TaskFailed or TaskCancelled when it ended otherwise."""
    if task.status is Status.FAILED:
        raise TaskFailed(task)
    if task.status is Status.CANCELLED:
        raise TaskCancelled(task)
    return task
