"""Sweeps of DashScope's task listing through the gateway: a sweep answers the due polls of
every task it lists, catches each end as soon as a poll would, falls back to polling when the
listing fails, and is not made where polling each task costs fewer calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from conftest import RunningGateway, wait_terminal
from vidgate.testing import FakeUpstream, Timing

Fakes = Callable[..., FakeUpstream]
Fronted = Callable[..., RunningGateway]
SMALL = {"prompt": "a lighthouse", "model": "wan2.6-t2v", "resolution": "720P", "duration": 2}
RENDER = 8.0
OWN_SCHEDULE = {
    "poll_interval": 1.0,
    "max_poll_interval": 2.0,
    "sweep_interval": 0.4,
    "concurrency": 50,
    "api_key": None,
    "api_keys": ["sk-one", "sk-two"],
}
"""Each task's own polls come a second apart; a sweep every 0.4 s stands in for them."""


def _run(fakes: Fakes, fronted: Fronted, count: int) -> tuple[FakeUpstream, list[float]]:
    """`count` tasks through a DashScope fake under two keys; the lag of each, in seconds
    from its end upstream to its completion at the gateway."""
    return _run_on(fakes("dashscope", **_fake_options()), fronted, count)


def _fake_options() -> dict[str, object]:
    return {
        "keys": ["sk-one", "sk-two"],
        "match_request": False,
        "timing": Timing(queue_seconds=0.2, render_seconds=RENDER),
    }


def _run_on(fake: FakeUpstream, fronted: Fronted, count: int) -> tuple[FakeUpstream, list[float]]:
    gateway = fronted({"ds": (fake, OWN_SCHEDULE)}, {"default": ["ds"]})
    with gateway.client(gateway.make_key()) as api:
        ids = [api.post("/v1/tasks", json=SMALL).json()["task_id"] for _ in range(count)]
        finals = [wait_terminal(api, task_id, timeout=60) for task_id in ids]
    assert [f["status"] for f in finals] == ["completed"] * count
    assert {task.owner for task in fake.tasks.values()} == {"sk-one", "sk-two"}
    ends = sorted(task.due_at for task in fake.tasks.values())
    done = sorted(datetime.fromisoformat(f["finished_at"]).timestamp() for f in finals)
    return fake, [finished - end for finished, end in zip(done, ends, strict=True)]


def test_a_sweep_answers_due_polls_and_catches_every_end(fakes: Fakes, fronted: Fronted) -> None:
    count = 24
    fake, lags = _run(fakes, fronted, count)
    queries, listings = fake.counters.calls("query"), fake.counters.calls("list")
    own_polls = count * RENDER / OWN_SCHEDULE["poll_interval"]  # type: ignore[operator]
    assert listings > 0
    assert queries <= 0.5 * own_polls, (queries, own_polls)
    assert queries + listings < own_polls
    assert max(lags) < OWN_SCHEDULE["poll_interval"] + 1.0, lags


def test_a_failing_listing_falls_back_to_each_tasks_own_polls(
    fakes: Fakes, fronted: Fronted
) -> None:
    fake = fakes("dashscope", **_fake_options())
    fake.faults.routes = frozenset({"list"})
    fake.faults.error_rate = 1.0
    count = 16
    fake, lags = _run_on(fake, fronted, count)
    assert fake.counters.calls("list") > 0
    queries = fake.counters.calls("query")
    assert queries >= count * (RENDER - 2) / OWN_SCHEDULE["poll_interval"], queries  # type: ignore[operator]
    assert max(lags) < OWN_SCHEDULE["poll_interval"] + 1.0, lags


def test_polls_that_cost_fewer_calls_than_a_sweep_go_without_one(
    fakes: Fakes, fronted: Fronted
) -> None:
    fake = fakes("dashscope", timing=Timing(queue_seconds=0.1, render_seconds=1.0))
    gateway = fronted({"ds": (fake, {"sweep_interval": 0.2})}, {"default": ["ds"]})
    with gateway.client(gateway.make_key()) as api:
        task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        assert wait_terminal(api, task_id)["status"] == "completed"
    assert fake.counters.calls("query") > 0
    assert fake.counters.calls("list") == 0


def test_polls_the_sweeps_put_off_come_back_when_the_listing_fails(
    fakes: Fakes, fronted: Fronted
) -> None:
    """A spared poll is put off to `max_poll_interval`; once the listing fails just before the
    tasks end, each task is polled on its own one-second schedule again, not that late."""
    fake = fakes("dashscope", **_fake_options())
    schedule = {**OWN_SCHEDULE, "max_poll_interval": 5.0}
    gateway = fronted({"ds": (fake, schedule)}, {"default": ["ds"]})
    count = 16
    with gateway.client(gateway.make_key()) as api:
        ids = [api.post("/v1/tasks", json=SMALL).json()["task_id"] for _ in range(count)]
        first_end = min(task.due_at for task in fake.tasks.values())
        time.sleep(max(0.0, first_end - 0.5 - time.time()))
        listings_before_the_failure = fake.counters.calls("list")
        fake.faults.routes = frozenset({"list"})
        fake.faults.error_rate = 1.0
        finals = [wait_terminal(api, task_id, timeout=60) for task_id in ids]
    assert listings_before_the_failure > 0
    assert [f["status"] for f in finals] == ["completed"] * count
    ends = sorted(task.due_at for task in fake.tasks.values())
    done = sorted(datetime.fromisoformat(f["finished_at"]).timestamp() for f in finals)
    lags = [finished - end for finished, end in zip(done, ends, strict=True)]
    assert max(lags) < OWN_SCHEDULE["poll_interval"] + 1.0, lags  # type: ignore[operator]
