"""Following the events table, so waiters hear of changes made by other processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from vidgate.store import Store

__all__ = ["tail_events"]

log = logging.getLogger("vidgate.events")


async def tail_events(
    store: Store, wake: Callable[[str, str], None], interval: float = 0.25
) -> None:
    """Call `wake(task_id, owner_id)` for every new event, one query per interval in all.

    Changes made in this process wake waiters at once through the store's listeners; this
    loop covers workers and gateways elsewhere, so no waiter has to poll the store itself.
    """
    cursor = await store.last_event_id()
    while True:
        try:
            rows = await store.events_since(cursor)
        except Exception:
            log.exception("reading new events failed")
            rows = []
        for row in rows:
            cursor = row["id"]
            wake(row["task_id"], row["owner_id"])
        if len(rows) < 1000:
            await asyncio.sleep(interval)
