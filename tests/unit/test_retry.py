"""The one retry policy: Retry-After in both forms, poll hints, backoff bounds, the test mode."""

from __future__ import annotations

import email.utils
import random

import pytest

from vidgate import retry

NOW = 1_750_000_000.0


def http_date(unix: float) -> str:
    return email.utils.formatdate(unix, usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("-4", 0.0),
        (http_date(NOW + 90), 90.0),
        (http_date(NOW - 90), 0.0),
        ("Sun, 15 Jun 2025 15:08:20 GMT", 1_750_000_100.0 - NOW),
        ("Sun, 15 Jun 2025 15:08:20 -0000", 1_750_000_100.0 - NOW),
        ("Sunday soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_delta_seconds_and_http_dates(
    value: str | None, expected: float | None
) -> None:
    assert retry.parse_retry_after(value, now=NOW) == expected


def test_headers_prefer_milliseconds_then_retry_after() -> None:
    headers = {"retry-after-ms": "250", "retry-after": http_date(NOW + 30)}
    assert retry.retry_after(headers, now=NOW) == 0.25
    assert retry.retry_after({"retry-after": http_date(NOW + 30)}, now=NOW) == 30.0
    assert retry.retry_after({"retry-after-ms": "later"}) is None


def test_the_poll_hint_prefers_the_openai_header() -> None:
    assert retry.poll_after({"openai-poll-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry.poll_after({"retry-after": http_date(NOW + 4)}, now=NOW) == 4.0
    assert retry.poll_after({}) is None


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 1.0])
def test_backoff_doubles_up_to_its_cap_and_jitters_below_it(jitter: float) -> None:
    rng = random.Random(11)
    for attempt in range(12):
        ceiling = min(10.0, 0.5 * 2**attempt)
        for _ in range(50):
            delay = retry.backoff(attempt, base=0.5, cap=10.0, jitter=jitter, rng=rng)
            assert (1 - jitter) * ceiling <= delay <= ceiling


def test_background_retries_spread_down_to_half_and_keep_retry_after_as_a_floor() -> None:
    rng = random.Random(5)
    delays = [retry.retry_delay(n, base=2, cap=30, rng=rng) for n in range(1, 40)]
    assert all(1 <= d <= 30 for d in delays) and max(delays) > 20
    assert retry.retry_delay(1, base=2, cap=30, retry_after=45, rng=rng) == 45
    with retry.without_backoff():
        assert retry.retry_delay(3, base=2, cap=30, rng=rng) >= 4


def test_the_test_mode_zeroes_client_waits_only_inside_its_block() -> None:
    policy = retry.RetryPolicy()
    with retry.without_backoff():
        assert retry.is_testing()
        assert policy.delay(4, {"retry-after": "30"}) == 0.0
        assert retry.PollPolicy().delay(4, hint=12.0) == 0.0
    assert not retry.is_testing()
    assert policy.delay(0, {"retry-after": "3600"}) == retry.MAX_RETRY_AFTER
    assert policy.delay(0, {"retry-after": http_date(9_999_999_999)}) == retry.MAX_RETRY_AFTER
