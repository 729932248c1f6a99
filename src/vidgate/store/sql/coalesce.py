"""One read shared by the callers who ask for it at about the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from vidgate.store.base import StoreUnavailable

__all__ = ["SharedRead"]

T = TypeVar("T")


class SharedRead(Generic[T]):
    """Callers who ask in one turn of the event loop, or while the read before is on its
    way, share the next read: each gets an answer read after it asked, so no caller sees a
    state older than its question, and a burst of callers costs one round trip a turn."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._next: asyncio.Future[T] | None = None
        self._reading: asyncio.Task[None] | None = None

    async def __call__(self) -> T:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            if self._reading is None:
                asyncio.get_running_loop().call_soon(self._start)
        return await asyncio.shield(self._next)

    def _start(self) -> None:
        if self._next is None or self._reading is not None:
            return
        answer, self._next = self._next, None
        # Read the outcome here too, so one nobody waits for any more is not reported unread.
        answer.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._reading = asyncio.get_running_loop().create_task(self._answer(answer))

    async def _answer(self, answer: asyncio.Future[T]) -> None:
        try:
            answer.set_result(await self._read())
        except BaseException as exc:
            stopped = StoreUnavailable("The read was stopped.")
            answer.set_exception(exc if isinstance(exc, Exception) else stopped)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._reading = None
            if self._next is not None:
                self._start()
