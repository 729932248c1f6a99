"""Store writes the engine must not lose: retried with backoff while the database is away."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from vidgate.retry import backoff
from vidgate.store import StoreUnavailable

__all__ = ["GIVE_UP_AFTER", "persist"]

log = logging.getLogger("vidgate.engine")
T = TypeVar("T")
GIVE_UP_AFTER = 300.0
"""Seconds of outage after which a write is abandoned; leases then settle who runs what."""
BASE = 0.1
CAP = 5.0


async def persist(
    write: Callable[[], Awaitable[T]], what: str, *, give_up_after: float = GIVE_UP_AFTER
) -> T:
    """``write()``, again and again while the store is unavailable, backing off up to 5 s.

    A transient outage must never become a task's failure: the write is the same
    compare-and-set each time, so a retry after a lost answer changes nothing twice.
    """
    started = time.monotonic()
    failures = 0
    while True:
        try:
            return await write()
        except StoreUnavailable as exc:
            failures += 1
            if time.monotonic() - started >= give_up_after:
                raise
            delay = backoff(failures - 1, base=BASE, cap=CAP)
            log.warning("%s: %s; retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
