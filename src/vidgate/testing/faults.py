"""What a fake upstream does wrong, and when: a typed, mutable fault plan."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "API_ROUTES",
    "ROUTE_KINDS",
    "Faults",
    "RouteKind",
    "SubmitFailure",
    "TaskFailure",
]

RouteKind = Literal["submit", "query", "cancel", "delete", "list", "content", "result"]
ROUTE_KINDS: frozenset[str] = frozenset(
    {"submit", "query", "cancel", "delete", "list", "content", "result"}
)
API_ROUTES: frozenset[str] = ROUTE_KINDS - {"result"}
"""Where request faults apply by default: every API route, but not signed result URLs."""
_UNSEEDED = object()


@dataclass(frozen=True)
class SubmitFailure:
    """Submits answer this error; None fields take the dialect's documented defaults."""

    code: str
    status: int | None = None
    message: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class TaskFailure:
    """Tasks submitted while this is set fail, at the end of their render time, with this code."""

    code: str | None = None
    message: str | None = None


@dataclass
class Faults:
    """Fault injection for one fake upstream. Change any field at any time, from any thread.

    Request faults (errors, throttling, delays, hangs, malformed bodies) apply to the route
    kinds in `routes`. Counted faults (`errors`, `throttled`, `unknown_polls`,
    `submit_failures`) are used up one answer at a time.
    """

    error_rate: float = 0.0
    """Fraction of calls answered `error_status` (a 5xx), drawn at random."""
    error_status: int = 500
    errors: int = 0
    """The next N calls answer `error_status`."""
    throttled: int = 0
    """The next N calls answer 429 with `Retry-After: retry_after`."""
    retry_after: float = 1.0
    delay: float = 0.0
    """Seconds to wait before answering each call."""
    hang: bool = False
    """Never answer, until the client gives up, the server stops or this is set back to False."""
    malformed_rate: float = 0.0
    """Fraction of JSON answers cut in half, so they no longer parse."""
    unknown_status: str | None = None
    """A status word the dialect does not document (`UNKNOWN`, `SUSPENDED`, `weird`)…"""
    unknown_polls: int | None = 1
    """…answered by this many task queries (None: every query until cleared)."""
    expired_results: bool = False
    """Result URLs and downloads answer as expired links do (OSS: 403 AccessDenied)."""
    task_failure: TaskFailure | None = None
    submit_failure: SubmitFailure | None = None
    submit_failures: int | None = None
    """How many submits `submit_failure` applies to (None: every one until cleared)."""
    routes: frozenset[str] = API_ROUTES
    seed: int | None = None
    """Seed for the rate-based faults, for repeatable runs."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _random: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _seeded: object = field(default=_UNSEEDED, repr=False, compare=False)

    def _draw(self) -> float:
        """A random fraction, from a generator reseeded whenever `seed` changes."""
        if self._seeded is _UNSEEDED or self._seeded != self.seed:
            self._random.seed(self.seed)
            self._seeded = self.seed
        return self._random.random()

    def throttle(self, count: int, retry_after: float = 1.0) -> None:
        """Answer the next `count` calls with 429 and `Retry-After: retry_after`."""
        with self._lock:
            self.throttled = count
            self.retry_after = retry_after

    def fail_submits(
        self,
        code: str,
        status: int | None = None,
        message: str | None = None,
        *,
        count: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Refuse submits with this error code (e.g. `Throttling.RateQuota`, `Arrearage`)."""
        with self._lock:
            self.submit_failure = SubmitFailure(code, status, message, retry_after)
            self.submit_failures = count

    def fail_tasks(self, code: str | None = None, message: str | None = None) -> None:
        """Fail every task submitted from now on; None takes the dialect's default failure."""
        self.task_failure = TaskFailure(code, message)

    def emit_unknown(self, word: str, polls: int | None = 1) -> None:
        """Answer the next `polls` task queries with this undocumented status word."""
        with self._lock:
            self.unknown_status = word
            self.unknown_polls = polls

    def reset(self) -> None:
        """Back to a well-behaved upstream."""
        with self._lock:
            defaults = Faults()
            for name in self.__dataclass_fields__:
                if not name.startswith("_"):
                    setattr(self, name, getattr(defaults, name))
            self._seeded = _UNSEEDED

    def applies_to(self, kind: str) -> bool:
        return kind in self.routes

    def take_throttle(self) -> float | None:
        """The Retry-After of a 429 to answer now, if a throttle burst is under way."""
        with self._lock:
            if self.throttled <= 0:
                return None
            self.throttled -= 1
            return self.retry_after

    def take_error(self) -> int | None:
        """The 5xx status to answer now, if any."""
        with self._lock:
            if self.errors > 0:
                self.errors -= 1
                return self.error_status
            if self.error_rate > 0 and self._draw() < self.error_rate:
                return self.error_status
            return None

    def take_malformed(self) -> bool:
        with self._lock:
            return self.malformed_rate > 0 and self._draw() < self.malformed_rate

    def take_unknown(self) -> str | None:
        """The undocumented status word to answer this task query with, if any."""
        with self._lock:
            word = self.unknown_status
            if word is None or self.unknown_polls is None:
                return word
            if self.unknown_polls <= 0:
                self.unknown_status = None
                return None
            self.unknown_polls -= 1
            if self.unknown_polls == 0:
                self.unknown_status = None
            return word

    def take_submit_failure(self) -> SubmitFailure | None:
        with self._lock:
            failure = self.submit_failure
            if failure is None or self.submit_failures is None:
                return failure
            if self.submit_failures <= 0:
                self.submit_failure = None
                return None
            self.submit_failures -= 1
            if self.submit_failures == 0:
                self.submit_failure = None
            return failure
