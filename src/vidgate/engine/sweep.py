"""Sweeps of an upstream's task listing: one pass over what it still runs answers many polls.

Where an API lists its unfinished tasks by status (DashScope's `GET /tasks?status=RUNNING`),
a page of the listing tells the state of up to a hundred tasks in one call. A sweep reads the
whole listing under each credential that has tasks running; a task that it lists needs no poll
of its own until the next sweep, and a task missing from it has ended there (or is in a state
the listing does not show) and is polled at once, which fetches its result.

Polling stays the safety net. A due poll is spared only while the latest sweep is fresh and
comes round sooner than the task's own next poll would, so the detection lag never grows; when
sweeps fail or stop, every task is polled on its own schedule again: a task the sweeps no
longer vouch for has its poll brought back to where its own schedule would have put it, counted
from the last sweep that listed it. A sweep runs only when it costs fewer calls than the polls it
answers, and takes at most half the provider's call rate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vidgate.clock import utcnow
from vidgate.engine.schedule import next_poll_delay
from vidgate.metrics import upstream_swept
from vidgate.providers.upstream import UpstreamError, UpstreamProvider
from vidgate.records import UpstreamTaskRef
from vidgate.retry import retry_delay
from vidgate.store import Store, StoreUnavailable

__all__ = ["Sweep", "UpstreamSweeper"]

log = logging.getLogger("vidgate.engine")
SETTLE = timedelta(seconds=2)
"""How long a task just accepted upstream is given to appear in the listing."""
RATE_SHARE = 0.5
"""The largest share of the provider's `requests_per_second` that sweeps take."""
MAX_PAGES = 1000
"""Listing calls one sweep may make; a longer listing is read in part, and spares no poll of a
task it did not reach."""
MAX_BACKOFF = 60.0
"""The longest wait between two sweeps while the listing fails."""
FRESH_SLACK = 1.5
"""A sweep's word holds for this many times its period (the time between two sweeps)."""


@dataclass(frozen=True)
class Listed:
    """A task as the latest sweep that listed it unfinished saw it."""

    ref: UpstreamTaskRef
    started: float
    """The sweep's start on the sweeper's clock."""
    at: datetime
    """The sweep's start in wall-clock time."""
    word: str
    """The status word it was listed under."""


@dataclass(frozen=True)
class Sweep:
    """What one sweep did."""

    outcome: str
    """`listed`, `unneeded` (polling each task costs fewer calls) or `failed`."""
    calls: int = 0


class UpstreamSweeper:
    """Sweeps one provider's listing and answers, from memory, whether a due poll is needed."""

    def __init__(
        self,
        store: Store,
        provider: UpstreamProvider,
        wake_polls: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.provider = provider
        self.wake_polls = wake_polls
        self.clock = clock
        config = provider.config
        self.interval = config.sweep_interval
        self.period = self.interval
        """Seconds from the start of one sweep to the start of the next, measured."""
        self.duration = 0.0
        """Seconds the latest sweep took, listing and all."""
        self._seen: dict[str, Listed] = {}
        """Upstream id → the latest sweep that listed it unfinished."""
        self._released: dict[str, Listed] = {}
        """Tasks no longer vouched for whose polls are still to be brought back."""
        self._expedited: dict[str, float] = {}
        self._last_start: float | None = None

    @staticmethod
    def available(provider: UpstreamProvider) -> bool:
        """Whether the provider's API lists its unfinished tasks and sweeps are switched on."""
        return bool(provider.dialect.running_statuses) and provider.config.sweep_interval > 0

    @property
    def reach(self) -> float:
        """The longest a task can have ended upstream before a sweep says so: from the start
        of the sweep that last listed it to the end of the next."""
        return self.period + self.duration

    def vouches(self, upstream_id: str, own_delay: float) -> str | None:
        """The status word the task was listed under, when its due poll may be spared: the
        latest sweep listed it unfinished, that sweep is fresh, and sweeps notice an end
        within `own_delay`, the task's own next poll. None when it must be polled."""
        seen = self._seen.get(upstream_id)
        if seen is None or own_delay < self.reach:
            return None
        fresh = self.clock() - seen.started <= self.period * FRESH_SLACK + self.duration
        return seen.word if fresh else None

    async def run(self) -> None:
        """Sweep for ever: every `sweep_interval`, or slower where the call rate needs it,
        backing off while the listing fails (polls then go on their own schedule)."""
        failures = 0
        while True:
            started = self.clock()
            try:
                sweep = await self.sweep_once()
            except (UpstreamError, StoreUnavailable) as exc:
                level = logging.WARNING if failures == 0 else logging.INFO
                log.log(level, "sweeping %s's listing: %s", self.provider.name, exc)
                sweep = Sweep("failed")
            except Exception:
                log.exception("sweeping %s's listing failed", self.provider.name)
                sweep = Sweep("failed")
            upstream_swept(self.provider.name, sweep.outcome)
            if sweep.outcome != "listed":
                self._forget()
            await self._bring_back()
            failures = failures + 1 if sweep.outcome == "failed" else 0
            rate = self.provider.config.requests_per_second * RATE_SHARE
            wait = max(self.interval, sweep.calls / rate)
            if failures:
                wait = max(wait, retry_delay(failures, base=self.interval, cap=MAX_BACKOFF))
            await asyncio.sleep(max(0.0, wait - (self.clock() - started)))

    def _forget(self) -> None:
        self._released.update(self._seen)
        self._seen.clear()
        self._last_start = None
        self.period = self.interval
        self.duration = 0.0

    async def sweep_once(self) -> Sweep:
        """One sweep: list what runs under each credential, spare the listed tasks' polls and
        bring forward those of the tasks that are missing."""
        refs = await self.store.running_upstream(self.provider.name)
        now = utcnow()
        settled = [ref for ref in refs if ref.started_at <= now - SETTLE]
        if not self._worth_it(settled, now):
            return Sweep("unneeded")
        start = self.clock()
        by_credential: dict[str, list[UpstreamTaskRef]] = defaultdict(list)
        for ref in settled:
            by_credential[ref.credential].append(ref)
        calls = 0
        ended: list[UpstreamTaskRef] = []
        for credential, group in by_credential.items():
            listing = await self.provider.running(credential, MAX_PAGES - calls)
            calls += listing.calls
            for ref in group:
                word = listing.ids.get(ref.upstream_id)
                if word is not None:
                    self._seen[ref.upstream_id] = Listed(ref, start, now, word)
                    self._released.pop(ref.upstream_id, None)
                    continue
                unlisted = self._seen.pop(ref.upstream_id, None)
                if listing.complete:
                    ended.append(ref)
                elif unlisted is not None:
                    self._released[ref.upstream_id] = unlisted
        if self._last_start is not None:
            self.period = max(self.interval, start - self._last_start)
        self._last_start = start
        self.duration = self.clock() - start
        running = {ref.upstream_id for ref in refs}
        self._seen = {k: v for k, v in self._seen.items() if k in running}
        self._released = {k: v for k, v in self._released.items() if k in running}
        self._expedited = {k: v for k, v in self._expedited.items() if k in running}
        if await self._bring_forward(ended, now):
            self.wake_polls()
        return Sweep("listed", calls)

    def _worth_it(self, refs: list[UpstreamTaskRef], now: datetime) -> bool:
        """Whether the polls that a sweep could spare within one period outnumber the
        listing's calls: each first poll that falls due in it, and each polled task's share of
        a poll on its own schedule (what is stored may be further off: sparing puts it off)."""
        if not refs:
            return False
        horizon = now + timedelta(seconds=self.period)
        spared = 0.0
        for ref in refs:
            own_delay = self._own_delay(ref, now)
            if own_delay < self.reach:
                continue
            if ref.polled:
                spared += self.period / own_delay
            elif ref.next_poll_at is not None and ref.next_poll_at <= horizon:
                spared += 1
        limit = self.provider.dialect.list_limit
        statuses = len(self.provider.dialect.running_statuses)
        credentials = {ref.credential for ref in refs}
        pages = len(credentials) * statuses + len(refs) // limit
        return spared > pages

    def _own_delay(self, ref: UpstreamTaskRef, now: datetime) -> float:
        """The gap between two polls of the task on its own schedule, past its first poll and
        without jitter."""
        config = self.provider.config
        return next_poll_delay(
            (now - ref.started_at).total_seconds(),
            expected_low=0.0,
            interval=config.poll_interval,
            max_interval=config.max_poll_interval,
            jitter=0.0,
        )

    async def _bring_back(self) -> None:
        """Put the poll of each task the sweeps stopped vouching for no later than its own
        schedule would have: one gap after the last sweep that listed it (a spared poll was
        put further off than that). Kept for the next round while the store is out."""
        now = utcnow()
        woken = False
        for upstream_id, listed in list(self._released.items()):
            due = listed.at + timedelta(seconds=self._own_delay(listed.ref, listed.at))
            try:
                moved = await self.store.expedite_poll(listed.ref.task_id, max(due, now))
                woken = woken or (moved and due <= now)
            except StoreUnavailable as exc:
                log.info("bringing back %s's polls: %s", self.provider.name, exc)
                break
            del self._released[upstream_id]
        if woken:
            self.wake_polls()

    async def _bring_forward(self, ended: list[UpstreamTaskRef], now: datetime) -> int:
        """Make the polls of tasks missing from the listing due now; a task missing again
        (in a state the listing leaves out) is brought forward no more often than its own
        schedule would poll it."""
        brought = 0
        moment = self.clock()
        for ref in ended:
            last = self._expedited.get(ref.upstream_id)
            if last is not None and moment - last < self._own_delay(ref, now):
                continue
            self._expedited[ref.upstream_id] = moment
            if await self.store.expedite_poll(ref.task_id, now):
                brought += 1
        return brought
