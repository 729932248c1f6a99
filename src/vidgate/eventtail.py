"""Following the events table, so waiters hear of changes made by other processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from vidgate.records import Event
from vidgate.store import Store

__all__ = ["tail_events"]

log = logging.getLogger("vidgate.events")
BATCH = 1000


async def tail_events(store: Store, wake: Callable[[Event], None], interval: float = 0.25) -> None:
    """Call ``wake`` with every new event, one query per interval in all.

    Changes made in this process wake waiters at once through the store's listeners; this
    loop covers workers and gateways elsewhere, so no waiter has to poll the store itself.
    """
    cursor = await store.last_event_id()
    while True:
        try:
            found = await store.events_since(cursor, BATCH)
        except Exception:
            log.exception("reading new events failed")
            found = []
        for event in found:
            cursor = event.id
            wake(event)
        if len(found) < BATCH:
            await asyncio.sleep(interval)
