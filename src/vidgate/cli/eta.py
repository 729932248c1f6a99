"""How long a task has left: its model's typical time, refined by the progress it reports."""

from __future__ import annotations

from dataclasses import dataclass

from vidgate.catalog import MODELS, Scenario, scenario_for
from vidgate.models import Status, Task

__all__ = ["Estimate", "ShapeMemory", "clock", "estimate", "typical_scenario"]


@dataclass(frozen=True)
class Estimate:
    """What to show about the time left: the typical time when no progress is reported, and
    the seconds left (None once the task runs past its typical time)."""

    typical: str | None
    remaining: float | None

    def text(self) -> str:
        """` typical=1-3min eta=~1m40s`, ` eta=~20s`, ` typical=1-3min eta=overdue`, or ``."""
        parts = []
        if self.typical is not None:
            parts.append(f"typical={self.typical}")
            parts.append(
                "eta=overdue" if self.remaining is None else f"eta=~{clock(self.remaining)}"
            )
        elif self.remaining is not None:
            parts.append(f"eta=~{clock(self.remaining)}")
        return "".join(f" {part}" for part in parts)


def clock(seconds: float) -> str:
    """`45s`, `1m40s`, `1h05m`."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _resolution(size: str | None) -> str | None:
    """The resolution tier of a `1280*720` or `720x1280` size."""
    if not size:
        return None
    for sep in ("*", "x", "X"):
        left, found, right = size.partition(sep)
        if found and left.strip().isdigit() and right.strip().isdigit():
            short = min(int(left), int(right))
            return "1080P" if short >= 1080 else "720P" if short >= 720 else "480P"
    return None


class ShapeMemory:
    """The model, mode, duration and size first seen for a task, for later answers without
    them (the DashScope task API names the model only when a task is created)."""

    FIELDS = ("model", "mode", "duration", "size")

    def __init__(self) -> None:
        self.known: dict[str, object] = {}

    def fill(self, task: Task) -> Task:
        for name in self.FIELDS:
            value = getattr(task, name)
            if value and name not in self.known:
                self.known[name] = value
        missing = {n: v for n, v in self.known.items() if not getattr(task, n)}
        return task.model_copy(update=missing) if missing else task


def typical_scenario(task: Task) -> Scenario | None:
    """The catalog's row for the task's mode, length and resolution; None for an unknown model."""
    spec = MODELS.get(task.model)
    mode = task.mode or (spec.modes[0] if spec is not None else None)
    if mode is None:
        return None
    duration = task.duration or (spec.default_duration if spec is not None else 5)
    resolution = _resolution(task.size) or (spec.default_resolution if spec else "720P")
    return scenario_for(mode, duration, resolution)


def estimate(task: Task, running: float, *, percent: bool) -> Estimate | None:
    """The estimate for a task that has been processing for `running` seconds (0 while queued).

    A reported percentage extrapolates the time spent so far; without one, the time left is the
    middle of the typical window less the time spent, then its upper end, then overdue.
    """
    if task.status.terminal:
        return None
    progress = task.progress if percent and task.status is Status.PROCESSING else 0
    if 0 < progress < 100 and running > 0:
        return Estimate(None, running * (100 - progress) / progress)
    scenario = typical_scenario(task)
    if scenario is None:
        return None
    low, high = scenario.typical_seconds
    left = (low + high) / 2 - running
    if left <= 0:
        left = high - running
    typical = scenario.typical_time.replace(" ", "")
    return Estimate(typical, left if left > 0 else None)
