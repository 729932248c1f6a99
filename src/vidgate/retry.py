"""Retry and backoff policy: capped exponential backoff with jitter, Retry-After, poll hints.

Small pure functions of attempts and response headers, used by the SDK, the engine and the
upstream providers. `set_testing(True)` is the public test mode: the policies' waits (backoff
and server-suggested ones) become zero, so tests exercise retries and polling without sleeping;
the retry counts stay the same.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC

__all__ = [
    "DASHSCOPE_SCHEDULE",
    "MAX_RETRY_AFTER",
    "RETRY_STATUSES",
    "PollPolicy",
    "RetryPolicy",
    "backoff",
    "is_testing",
    "parse_retry_after",
    "poll_after",
    "retry_after",
    "retry_delay",
    "set_testing",
    "should_retry",
    "without_backoff",
]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
"""The longest server-suggested wait a policy honours, in seconds."""
DASHSCOPE_SCHEDULE = (1.0, 1.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 5.0)
"""The DashScope SDK's poll intervals; the last one repeats (a benchmark baseline)."""

_testing = False


def set_testing(enabled: bool = True) -> None:
    """Turn the test mode on or off: every policy's wait becomes zero."""
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


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` value: delta-seconds or an HTTP-date (RFC 9110).

    A date in the past is zero seconds away; an unreadable value is None.
    """
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return None if math.isnan(seconds) else max(0.0, seconds)


def _millis(value: str | None) -> float | None:
    try:
        seconds = float(value) / 1000 if value is not None else math.nan
    except ValueError:
        return None
    return None if math.isnan(seconds) else max(0.0, seconds)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks a retry to wait: `retry-after-ms`, else `Retry-After`."""
    millis = _millis(headers.get("retry-after-ms"))
    if millis is not None:
        return millis
    return parse_retry_after(headers.get("retry-after"), now)


def poll_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server suggests before the next status check: `openai-poll-after-ms`, else
    the Retry-After headers."""
    millis = _millis(headers.get("openai-poll-after-ms"))
    return millis if millis is not None else retry_after(headers, now)


def backoff(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.25,
    rng: random.Random | None = None,
) -> float:
    """Capped exponential backoff: `base * 2**attempt`, at most `cap`, less up to `jitter` of it
    at random (0.25: a quarter below the ceiling at most)."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt))
    draw = rng.random() if rng is not None else random.random()
    return ceiling * (1 - jitter * draw)


def retry_delay(
    failures: int,
    *,
    base: float = 1.0,
    cap: float = 60.0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before a background job's retry after `failures` failures in a row.

    Jitter spreads retries down to half the ceiling, so that many jobs failing at once do not
    come back at once; an upstream's Retry-After is a floor. Unlike the policies below it keeps
    its delays in the test mode: it paces a live gateway against its upstreams.
    """
    delay = backoff(failures - 1, base=base, cap=cap, jitter=0.5, rng=rng)
    return max(delay, retry_after or 0.0)


def _wait(attempt: int, hint: float | None, *, base: float, cap: float) -> float:
    """A client's wait: zero in the test mode, else the server's hint (capped), else backoff."""
    if _testing:
        return 0.0
    if hint is not None:
        return min(hint, MAX_RETRY_AFTER)
    return backoff(attempt, base=base, cap=cap)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a client retries 429, 5xx and connection errors."""

    max_retries: int = 2
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds before retry number `attempt + 1`; Retry-After wins when the server sent it."""
        hinted = retry_after(headers) if headers is not None else None
        return _wait(attempt, hinted, base=self.base, cap=self.cap)


@dataclass(frozen=True)
class PollPolicy:
    """The fallback poll schedule when a server neither long-polls nor suggests an interval."""

    base: float = 1.0
    cap: float = 15.0

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """Seconds before poll number `attempt + 1`: the server's hint, else backoff."""
        return _wait(attempt, hint, base=self.base, cap=self.cap)
