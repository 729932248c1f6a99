"""A sliding-window rate limit: at most `rate` calls in any one second."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque

__all__ = ["CallRate"]

MARGIN = 1.05
"""The window is this much longer than a second, so that calls which reach the server a few
milliseconds apart from when they left still fall within the rate there."""


class CallRate:
    """Callers await `acquire()`; in no window of one second do more than `rate` of them
    go ahead (at a rate below one a second: one call in each `1 / rate` seconds). Up to
    `rate` may go at once after a quiet spell, as a provider counting calls per second
    allows."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.window = MARGIN * max(1.0, 1.0 / rate)
        self.limit = max(1, math.floor(rate * max(1.0, 1.0 / rate)))
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    break
                await asyncio.sleep(self._sent[0] + self.window - now)
            self._sent.append(now)
