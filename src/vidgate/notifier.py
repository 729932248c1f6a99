"""In-process wake-ups for anyone waiting on a task to change."""

from __future__ import annotations

import asyncio
from collections import defaultdict

__all__ = ["Notifier"]


class Notifier:
    """Wakes waiters of a key; waiters also re-check the store, so other processes count too."""

    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)

    def notify(self, key: str) -> None:
        for future in self._waiters.pop(key, set()):
            if not future.done():
                future.set_result(None)

    async def wait(self, key: str, timeout: float) -> bool:
        """Wait for a notification on `key`; False on timeout."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].add(future)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    self._waiters.pop(key, None)
