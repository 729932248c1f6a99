"""Poll scheduling: few calls, bounded detection lag, hints and backoff honoured."""

from __future__ import annotations

import random

from vidgate.engine.schedule import expected_window, next_poll_delay
from vidgate.retry import retry_delay


def simulate(duration: float, expected_low: float, interval: float) -> tuple[int, float]:
    """Poll a task that completes after `duration` s; return (calls, detection lag)."""
    rng = random.Random(1)
    elapsed = 0.0
    calls = 0
    while True:
        elapsed += next_poll_delay(
            elapsed, expected_low=expected_low, interval=interval, max_interval=60, rng=rng
        )
        calls += 1
        if elapsed >= duration:
            return calls, elapsed - duration


def test_expected_window_follows_seed_000() -> None:
    assert expected_window("t2v", 5, "720P") == (60, 180)
    assert expected_window("t2v", 10, "720P") == (180, 360)
    assert expected_window("i2v", 15, "1080P") == (300, 600)
    assert expected_window("r2v", 5, "720P") == (120, 300)
    assert expected_window("vace", 5, "720P") == (60, 240)


def test_polls_are_few_and_lag_is_a_tenth_of_the_task() -> None:
    for duration in (30, 90, 180, 360, 600):
        calls, lag = simulate(duration, expected_low=60, interval=2)
        fixed_calls = duration / 5
        assert lag <= 0.1 * duration + 2, (duration, lag)
        assert calls <= fixed_calls, (duration, calls)
        if duration >= 360:
            assert calls <= 0.45 * fixed_calls, (duration, calls)


def test_jitter_only_ever_brings_a_poll_forward() -> None:
    rng = random.Random(5)
    for elapsed in (0, 10, 45, 120, 400, 900):
        plain = next_poll_delay(elapsed, expected_low=60, interval=5, max_interval=60, jitter=0)
        drawn = [
            next_poll_delay(elapsed, expected_low=60, interval=5, max_interval=60, rng=rng)
            for _ in range(200)
        ]
        assert max(drawn) <= plain, elapsed
        assert min(drawn) >= 0.85 * plain, elapsed
        assert min(drawn) < 0.95 * plain, "the polls of many tasks are spread out"


def test_first_poll_waits_for_half_the_expected_time() -> None:
    delay = next_poll_delay(0, expected_low=120, interval=5, max_interval=600, jitter=0)
    assert delay == 60


def test_upstream_hint_is_a_floor() -> None:
    delay = next_poll_delay(100, expected_low=0, interval=1, max_interval=60, hint=30, jitter=0)
    assert delay == 30


def test_retry_backoff_is_capped_and_honours_retry_after() -> None:
    rng = random.Random(3)
    delays = [retry_delay(n, base=1, cap=8, rng=rng) for n in range(1, 10)]
    assert all(d <= 8 for d in delays)
    assert delays[0] <= 1
    assert retry_delay(1, retry_after=12, rng=rng) >= 12
