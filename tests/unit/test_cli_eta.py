"""The CLI's ETA: the catalog's typical time, refined by reported progress, never negative."""

from __future__ import annotations

from vidgate.cli.eta import ShapeMemory, clock, estimate
from vidgate.models import Mode, Status, Task


def task(status: Status = Status.PROCESSING, progress: int = 0, **fields: object) -> Task:
    values: dict[str, object] = {"model": "wan2.6-t2v", "mode": Mode.T2V, "duration": 5}
    values.update(fields)
    return Task.model_validate({"task_id": "t", "status": status, "progress": progress, **values})


def shown(shown_task: Task, running: float, *, percent: bool = True) -> str:
    found = estimate(shown_task, running, percent=percent)
    return "none" if found is None else found.text()


def test_the_typical_window_counts_down_then_reads_overdue() -> None:
    assert shown(task(Status.QUEUED), 0) == " typical=1-3min eta=~2m00s"
    assert shown(task(), 150) == " typical=1-3min eta=~30s"
    assert shown(task(), 200) == " typical=1-3min eta=overdue"


def test_a_reported_percentage_is_extrapolated() -> None:
    assert shown(task(progress=25), 10) == " eta=~30s"
    assert "typical=1-3min" in shown(task(progress=25), 10, percent=False)


def test_long_jobs_unknown_models_and_ended_tasks() -> None:
    long = estimate(task(duration=10, size="1920*1080"), 0, percent=True)
    assert long is not None and long.typical == "5-10min"
    assert shown(task(model="nope", mode=None), 0) == "none"
    assert shown(task(Status.COMPLETED), 0) == "none"


def test_clock_and_remembered_shape() -> None:
    assert [clock(s) for s in (0, 59.4, 100, 3900)] == ["0s", "59s", "1m40s", "1h05m"]
    memory = ShapeMemory()
    memory.fill(task(Status.QUEUED))
    bare = memory.fill(task(model="", mode=None, duration=None))
    assert (bare.model, bare.mode, bare.duration) == ("wan2.6-t2v", Mode.T2V, 5)
