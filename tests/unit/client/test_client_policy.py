"""Retry and poll policy: Retry-After and poll hints, backoff bounds, and the test mode."""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from vidgate.client import policy
from vidgate.client.policy import PollPolicy, RetryPolicy, backoff, poll_after, retry_after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "150", "retry-after": "9"}, 0.15),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_and_milliseconds(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after(headers) == expected


def test_retry_after_reads_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after({"retry-after": later})
    assert seconds is not None and 28 <= seconds <= 31


def test_poll_hint_prefers_openai_header_then_retry_after() -> None:
    assert poll_after({"openai-poll-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert poll_after({"retry-after": "3"}) == 3.0
    assert poll_after({}) is None


def test_backoff_grows_is_capped_and_jittered_below_its_ceiling() -> None:
    rng = random.Random(7)
    draws = [backoff(n, base=1.0, cap=8.0, rng=rng) for n in range(8)]
    ceilings = [1, 2, 4, 8, 8, 8, 8, 8]
    for value, ceiling in zip(draws, ceilings, strict=True):
        assert 0.75 * ceiling <= value <= ceiling


def test_retry_policy_honours_retry_after_and_caps_it() -> None:
    retry = RetryPolicy(base=0.5, cap=4.0)
    assert retry.delay(0, {"retry-after": "3"}) == 3.0
    assert retry.delay(0, {"retry-after": "3600"}) == policy.MAX_RETRY_AFTER
    assert 0.375 <= retry.delay(0) <= 0.5
    assert PollPolicy().delay(3, hint=2.0) == 2.0


def test_testing_mode_turns_every_wait_off_and_restores_it() -> None:
    assert not policy.is_testing()
    with policy.without_backoff():
        assert RetryPolicy().delay(5, {"retry-after": "30"}) == 0.0
        assert PollPolicy().delay(5, hint=10.0) == 0.0
    assert not policy.is_testing()
    assert RetryPolicy().delay(0, {"retry-after": "1"}) == 1.0


@pytest.mark.parametrize(("status", "retry"), [(429, True), (503, True), (500, True), (404, False)])
def test_which_statuses_are_retried(status: int, retry: bool) -> None:
    assert policy.should_retry(status) is retry
