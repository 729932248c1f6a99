"""A clock that tests move by hand, so fake tasks progress without sleeping."""

from __future__ import annotations

import threading
import time

__all__ = ["ManualClock"]


class ManualClock:
    """Unix time that stands still until `advance` is called; pass it as a fake's `clock`."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward and return the new time."""
        with self._lock:
            self._now += seconds
            return self._now
