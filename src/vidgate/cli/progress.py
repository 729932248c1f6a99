"""Progress of a task on stderr: the Qwen Cloud client's plain lines, or a live display.

Both add an ETA while the task runs (see `vidgate.cli.eta`), and both stop at the first terminal
answer: nothing older is drawn after it, and the last line shows how the task ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Protocol

from vidgate.cli.eta import ShapeMemory, estimate
from vidgate.models import Status, Task

__all__ = ["LiveProgress", "PlainProgress", "Progress", "RunningTime", "status_line"]


def status_line(task: Task, word: str, elapsed: float, *, percent: bool) -> str:
    """`[15s] task=ID status=RUNNING progress=40%`, or `… status=SUCCEEDED video_url=ready`."""
    line = f"[{elapsed:.0f}s] task={task.task_id} status={word}"
    if task.status is Status.COMPLETED:
        return line + (" video_url=ready" if task.result is not None else "")
    if percent and task.status is Status.PROCESSING:
        line += f" progress={task.progress}%"
    return line


class RunningTime:
    """Seconds a task has been processing: from its `started_at`, else since first seen so."""

    def __init__(self) -> None:
        self._seen: float | None = None

    def of(self, task: Task) -> float:
        if task.status is not Status.PROCESSING:
            return 0.0
        now = time.monotonic()
        if self._seen is None:
            self._seen = now
        if task.started_at is not None:
            server = time.time() - task.started_at.timestamp()
            if server >= 0:
                return server
        return now - self._seen


class Progress(Protocol):
    """Something that shows each answer of a wait."""

    def update(self, task: Task) -> None: ...

    def close(self) -> None: ...


class PlainProgress:
    """A line per status change, and at least one every `interval` seconds while it runs."""

    def __init__(
        self,
        stream: IO[str],
        word: Callable[[Task], str],
        *,
        interval: float,
        percent: bool,
        started: float | None = None,
    ) -> None:
        self.stream = stream
        self.word = word
        self.interval = interval
        self.percent = percent
        self.started = time.monotonic() if started is None else started
        self.running = RunningTime()
        self.shape = ShapeMemory()
        self.final: Task | None = None
        self._last_word: str | None = None
        self._last_line = -float("inf")

    def update(self, task: Task) -> None:
        if self.final is not None:
            return
        now = time.monotonic()
        word = self.word(task)
        if task.status.terminal:
            self.final = task
        elif word == self._last_word and now - self._last_line < self.interval * 0.99:
            return
        self._last_word, self._last_line = word, now
        line = status_line(task, word, now - self.started, percent=self.percent)
        eta = estimate(self.shape.fill(task), self.running.of(task), percent=self.percent)
        print(line + (eta.text() if eta else ""), file=self.stream, flush=True)

    def close(self) -> None:
        return None


class LiveProgress:
    """A rich progress bar with the task's status and ETA, redrawn on every answer."""

    def __init__(self, stream: IO[str], word: Callable[[Task], str], *, percent: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        self.word = word
        self.percent = percent
        self.running = RunningTime()
        self.shape = ShapeMemory()
        self.final: Task | None = None
        self.bar = Bar(
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=Console(file=stream),
        )
        self.row = self.bar.add_task("waiting", total=100 if percent else None, eta="")
        self._last_word: str | None = None
        self.bar.start()

    def update(self, task: Task) -> None:
        if self.final is not None:
            return
        word = self.word(task)
        done = task.status.terminal
        eta = estimate(self.shape.fill(task), self.running.of(task), percent=self.percent)
        # The bar is redrawn first: printing a line draws the bar again below it.
        self.bar.update(
            self.row,
            description=f"task={task.task_id} status={word}",
            completed=100 if task.status is Status.COMPLETED else task.progress,
            total=100 if self.percent or done else None,
            eta=eta.text().strip() if eta else "",
        )
        if done:
            self.final = task
            self.bar.stop_task(self.row)
        self.bar.refresh()
        if word != self._last_word:
            self._last_word = word
            self.bar.console.print(f"task={task.task_id} status={word}")

    def close(self) -> None:
        self.bar.stop()
