"""Retry and poll policy: small pure functions of attempts and response headers.

`set_testing(True)` is the public test mode: backoff and server-suggested waits become zero,
so tests exercise retries and polling without sleeping (the retry counts stay the same).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = [
    "DASHSCOPE_SCHEDULE",
    "RETRY_STATUSES",
    "PollPolicy",
    "RetryPolicy",
    "backoff",
    "is_testing",
    "poll_after",
    "retry_after",
    "set_testing",
    "should_retry",
    "without_backoff",
]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
DASHSCOPE_SCHEDULE = (1.0, 1.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 5.0)
"""The DashScope SDK's poll intervals; the last one repeats (a benchmark baseline)."""

_testing = False


def set_testing(enabled: bool = True) -> None:
    """Turn the test mode on or off: every backoff and server-suggested wait becomes zero."""
    global _testing
    _testing = enabled


def is_testing() -> bool:
    return _testing


@contextmanager
def without_backoff(enabled: bool = True) -> Iterator[None]:
    """The test mode for the duration of a `with` block."""
    before = _testing
    set_testing(enabled)
    try:
        yield
    finally:
        set_testing(before)


def should_retry(status_code: int) -> bool:
    """429, 408 and server errors are worth another try; other statuses are final."""
    return status_code in RETRY_STATUSES or status_code >= 500


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return None if math.isnan(seconds) else seconds


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks a retry to wait: `retry-after-ms`, else `Retry-After`."""
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    seconds = _seconds(headers.get("retry-after"))
    return None if seconds is None else max(0.0, seconds)


def poll_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server suggests before the next status check, read from every response."""
    millis = _seconds(headers.get("openai-poll-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    return retry_after(headers)


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Capped exponential backoff with jitter: up to a quarter below `base * 2**attempt`."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt))
    draw = rng.random() if rng is not None else random.random()
    return ceiling * (1 - 0.25 * draw)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry 429, 5xx and connection errors."""

    max_retries: int = 2
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds before retry number `attempt + 1`; Retry-After wins when the server sent it."""
        if _testing:
            return 0.0
        hinted = retry_after(headers) if headers is not None else None
        if hinted is not None:
            return min(hinted, MAX_RETRY_AFTER)
        return backoff(attempt, base=self.base, cap=self.cap)


@dataclass(frozen=True)
class PollPolicy:
    """The fallback poll schedule when a server neither long-polls nor suggests an interval."""

    base: float = 1.0
    cap: float = 15.0

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """Seconds before poll number `attempt + 1`: the server's hint, else backoff."""
        if _testing:
            return 0.0
        if hint is not None:
            return min(hint, MAX_RETRY_AFTER)
        return backoff(attempt, base=self.base, cap=self.cap)
