"""In-process wake-ups for anyone waiting on a task to change."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Listener", "Notifier"]


class Listener:
    """Remembers notifications of one key from the moment it was made, so that a reader who
    clears it, reads the store, then waits, never misses a change made in between."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def clear(self) -> None:
        """Forget earlier notifications; call it just before reading the store."""
        self._changed.clear()

    async def wait(self, timeout: float) -> bool:
        """Wait for a notification since the last ``clear``; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
            return True
        except TimeoutError:
            return False


class Notifier:
    """Wakes waiters of a key; waiters also re-check the store, so other processes count too."""

    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._listeners: defaultdict[str, set[Listener]] = defaultdict(set)

    def notify(self, key: str) -> None:
        for future in self._waiters.pop(key, set()):
            if not future.done():
                future.set_result(None)
        for listener in self._listeners.get(key, ()):
            listener._changed.set()

    def notify_listeners(self) -> None:
        """Wake every listener, of every key (the process is shutting down)."""
        for listeners in self._listeners.values():
            for listener in listeners:
                listener._changed.set()

    @contextmanager
    def listen(self, key: str) -> Iterator[Listener]:
        """A listener for ``key`` while the block runs."""
        listener = Listener()
        self._listeners[key].add(listener)
        try:
            yield listener
        finally:
            listeners = self._listeners.get(key)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    self._listeners.pop(key, None)

    async def wait(self, key: str, timeout: float) -> bool:
        """Wait for a notification on `key`; False on timeout."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].add(future)
        try:
            async with asyncio.timeout(timeout):
                await future
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    self._waiters.pop(key, None)
