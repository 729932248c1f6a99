"""Polling floor: what any poll schedule must spend on `upstream_polling.py`'s plan.

What it computes (no processes, no network; a few seconds). For the tasks of the polling
benchmark's plan (render times spread evenly over 30 s-10 min, each sent as the shape whose
typical time covers it), it walks poll schedules over each task's known length and reports
their status calls against the bound the benchmark uses, a fixed 5 s poller's
`ceil(D / 5) + 1`, and the poll's detection lag (first poll at or after completion - the
completion) as a share of the task's length, p95 and max:

- the gateway's own schedule, `vidgate.engine.schedule.next_poll_delay`, with the benchmark's
  provider settings (5 s interval, 60 s cap) and its jitter (seeded); what
  `upstream_polling.py` measures in real time should come close to this line;
- the floor for a schedule that tells every task within 10 % of its length: polls in a
  geometric series of ratio 1.1 from the shortest render time of the task's shape, which a
  gateway cannot know in advance (it knows the shape's typical window), so no schedule that
  keeps every task within 10 % can spend less;
- the same series starting at the shape's typical low: the fastest tasks of each shape wait
  up to twice their length, so its p95 holds only because they are fewer than 5 %.

These bound schedules that poll each task on its own. A sweep of an API's listing of
unfinished tasks (DashScope's, which `upstream_polling.py` runs against) answers a hundred tasks
a call and is not bound by them.

Targets (of issue 13): calls <= 10 % of the bound's, p95 lag <= 10 %. Usage:

    .venv/bin/python bench/polling_floor.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable

from upstream_polling import MAX_POLL_INTERVAL, POLL_INTERVAL, plan_tasks
from vidgate.engine.schedule import expected_window, next_poll_delay

LAG_SHARE = 0.1
Schedule = Callable[[float, float], float]
"""(elapsed, typical low) -> seconds to the next poll."""


def gateway(rng: random.Random) -> Schedule:
    def delay(elapsed: float, low: float) -> float:
        return next_poll_delay(
            elapsed,
            expected_low=low,
            interval=POLL_INTERVAL,
            max_interval=MAX_POLL_INTERVAL,
            rng=rng,
        )

    return delay


def geometric_from(start: Callable[[float], float]) -> Schedule:
    """Polls at start, start x 1.1, start x 1.1^2, ...; `start` maps the typical low."""

    def delay(elapsed: float, low: float) -> float:
        first = start(low)
        if elapsed < first:
            return first - elapsed
        return LAG_SHARE * elapsed

    return delay


def walk(schedule: Schedule, length: float, low: float) -> tuple[int, float]:
    """Status calls until the first poll at or after `length`, and that poll's lag / length."""
    elapsed, calls = 0.0, 0
    while True:
        elapsed += schedule(elapsed, low)
        calls += 1
        if elapsed >= length - 1e-9:
            return calls, (elapsed - length) / length


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    plans = plan_tasks(args.tasks, 30.0, 600.0, "matched")
    lows = {p.index: expected_window("t2v", p.duration, p.resolution)[0] for p in plans}
    shortest: dict[float, float] = {}
    for plan in plans:
        low = lows[plan.index]
        shortest[low] = min(shortest.get(low, math.inf), plan.render)
    schedules: list[tuple[str, Schedule]] = [
        ("gateway: next_poll_delay (5 s interval, 60 s cap, jitter)", gateway(random.Random(7))),
        (
            "floor, every task <= 10 %: x1.1 from the shape's shortest render",
            geometric_from(lambda low: shortest[low]),
        ),
        ("x1.1 from the shape's typical low", geometric_from(lambda low: low)),
    ]
    bound = sum(math.ceil(p.render / 5) + 1 for p in plans)
    print(f"{args.tasks} tasks, 30 s-10 min, shapes matched; bound = 5 s poller, {bound} calls")
    print(f"{'schedule':<68} {'calls/bound':>11} {'p95 lag':>8} {'max lag':>8}")
    for name, schedule in schedules:
        calls, lags = 0, []
        for plan in plans:
            made, lag = walk(schedule, plan.render, lows[plan.index])
            calls += made
            lags.append(lag)
        lags.sort()
        p95 = lags[min(len(lags) - 1, int(0.95 * len(lags)))]
        print(f"{name:<68} {calls / bound:>10.1%} {p95:>8.1%} {lags[-1]:>8.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
