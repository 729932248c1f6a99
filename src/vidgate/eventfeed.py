"""Following every process's events, so that this one's waiters, streams, webhook deliverer
and engine wake for changes made anywhere.

Changes made in this process wake its waiters at once through the store's listeners. For the
others, on PostgreSQL, the feed LISTENs for the NOTIFY each event is announced with, on a
connection of its own. NOTIFY is not durable: notices sent while that connection is down are
lost. So the feed keeps the id of the last event it handed on, reads the events table from
there each time it (re)connects, whenever a notice skips ids, and when it has heard nothing
for a while; and while the connection is down it tails the table every ``tail_interval``,
reconnecting with backoff. On SQLite (one machine, maybe several processes on one file), or
with listening switched off, the tail is all there is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from vidgate.records import EventNotice
from vidgate.retry import backoff
from vidgate.store import Store
from vidgate.store.base import EventNotices

__all__ = ["EventFeed"]

log = logging.getLogger("vidgate.events")
BATCH = 1000
SWEEP = 5.0
"""Seconds of silence after which a listening feed pings its connection and reads the table, for
events of writers that announce nothing (an older version during a rolling upgrade)."""
RECONNECT_BASE = 0.1
RECONNECT_CAP = 5.0


class EventFeed:
    """Hands ``wake`` a notice of every event committed from now on, in id order, each once."""

    def __init__(
        self,
        store: Store,
        wake: Callable[[EventNotice], None],
        *,
        tail_interval: float = 0.25,
        listen: bool = True,
    ) -> None:
        self.store = store
        self.wake = wake
        self.tail_interval = tail_interval
        self.listen = listen
        self.cursor = -1
        """The id of the last event handed on; -1 until the feed has started."""
        self.listening = asyncio.Event()
        """Set while a LISTEN connection is open and caught up."""
        self._read_failed = False

    async def run(self) -> None:
        """Follow events until cancelled."""
        self.cursor = await self._first_cursor()
        failures = 0
        while True:
            subscription = self.store.listen_events() if self.listen else None
            if subscription is None:
                await self._tail(None)
                return
            try:
                async with subscription as notices:
                    await self._catch_up()
                    self.listening.set()
                    if failures:
                        log.info("listening for events again, caught up to event %d", self.cursor)
                    failures = 0
                    await self._follow(notices)
            except Exception as exc:
                level = logging.WARNING if failures == 0 else logging.DEBUG
                log.log(
                    level,
                    "event listener down (%s); reading the events table every %gs meanwhile",
                    exc,
                    self.tail_interval,
                )
            finally:
                self.listening.clear()
            await self._tail(backoff(failures, base=RECONNECT_BASE, cap=RECONNECT_CAP))
            failures += 1

    async def _first_cursor(self) -> int:
        while True:
            try:
                return await self.store.last_event_id()
            except Exception as exc:
                log.warning("reading the last event id failed (%s); retrying", exc)
                await asyncio.sleep(self.tail_interval)

    async def _follow(self, notices: EventNotices) -> None:
        sweep = max(SWEEP, self.tail_interval)
        while True:
            notice = await notices.next(sweep)
            if notice is None:
                await self._catch_up()
            elif notice.id > self.cursor:
                if notice.id != self.cursor + 1:
                    # Ids skipped: a rolled-back write, or events no one announced. Read them.
                    await self._catch_up()
                if notice.id > self.cursor:
                    self.cursor = notice.id
                    self.wake(notice)

    async def _catch_up(self) -> None:
        """Hand on every event after the cursor that the table holds now."""
        while True:
            found = await self.store.events_since(self.cursor, BATCH)
            for event in found:
                self.cursor = event.id
                self.wake(EventNotice.of(event))
            if len(found) < BATCH:
                return

    async def _tail(self, seconds: float | None) -> None:
        """Read the table now and every ``tail_interval`` after, for ``seconds`` (None: ever)."""
        loop = asyncio.get_running_loop()
        until = None if seconds is None else loop.time() + seconds
        while True:
            try:
                await self._catch_up()
                self._read_failed = False
            except Exception as exc:
                level = logging.DEBUG if self._read_failed else logging.WARNING
                log.log(level, "reading new events failed: %s", exc)
                self._read_failed = True
            left = self.tail_interval if until is None else until - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(self.tail_interval, left))
