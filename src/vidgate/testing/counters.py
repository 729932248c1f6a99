"""Thread-safe tallies of the calls a fake upstream received and the statuses it answered."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["Counters"]


class Counters:
    """Calls per route kind (`submit`, `query`…) and per `METHOD /path/{template}`.

    Reads and writes may come from any thread: the server records, a test reads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._total = 0

    def record(self, kind: str, route: str) -> None:
        """Count one call of `kind` (e.g. `query`) on `route` (e.g. `GET /v1/videos/{id}`)."""
        with self._lock:
            self._calls[kind] += 1
            self._calls[route] += 1
            self._total += 1

    def record_status(self, status: int) -> None:
        """Count one answer with this HTTP status."""
        with self._lock:
            self._statuses[status] += 1

    def calls(self, name: str | None = None) -> int:
        """Calls of a kind or a `METHOD /template` route; every call when `name` is None."""
        with self._lock:
            return self._total if name is None else self._calls[name]

    def responses(self, status: int | None = None) -> int:
        """Answers with this HTTP status; every answer when `status` is None."""
        with self._lock:
            if status is None:
                return sum(self._statuses.values())
            return self._statuses[status]

    def snapshot(self) -> dict[str, int]:
        """Every non-zero tally: kinds, routes, `total`, and statuses as `status:429`."""
        with self._lock:
            data = dict(self._calls)
            data["total"] = self._total
            data.update({f"status:{code}": n for code, n in sorted(self._statuses.items())})
            return data

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._statuses.clear()
            self._total = 0
