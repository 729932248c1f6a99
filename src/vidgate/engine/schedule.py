"""When to poll an upstream task next: pure functions of what is known about it."""

from __future__ import annotations

import random

from vidgate.catalog import MODELS, scenario_for
from vidgate.models import Mode

__all__ = ["expected_window", "next_poll_delay"]

ELAPSED_FRACTION = 0.1
"""Poll no more often than every 10% of the time already spent, which bounds detection lag."""


def expected_window(
    mode: str, duration: int, resolution: str, model: str | None = None
) -> tuple[float, float]:
    """The typical time of such a job, in seconds (low, high): the model's own figure where the
    catalog has one, else the video.py client's."""
    spec = MODELS.get(model or "")
    if spec is not None and spec.typical_seconds is not None:
        low, high = spec.typical_seconds
    else:
        low, high = scenario_for(Mode(mode), duration, resolution).typical_seconds
    return float(low), float(high)


def next_poll_delay(
    elapsed: float,
    *,
    expected_low: float,
    interval: float,
    max_interval: float,
    hint: float | None = None,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll of a task submitted `elapsed` seconds ago.

    Before half the expected time there is nothing to see, so the first poll waits for it.
    After that, polls are spaced by a tenth of the elapsed time, never closer than the
    provider's interval nor farther than `max_interval`; an upstream hint is a floor. The
    jitter only shortens a delay (by up to 1.5 times `jitter`), so that spreading polls out never
    lets the detection lag pass a tenth of the task's time.
    """
    first_useful = 0.5 * expected_low - elapsed
    delay = min(max_interval, max(interval, ELAPSED_FRACTION * elapsed))
    if first_useful > delay:
        delay = min(first_useful, max_interval)
    if hint is not None:
        delay = max(delay, hint)
    spread = (rng or random).uniform(1 - 1.5 * jitter, 1)
    return max(0.05, delay * spread)
