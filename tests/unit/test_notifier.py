"""Wake-ups: a reader that listens before it reads never misses a change made in between."""

from __future__ import annotations

import asyncio

from vidgate.notifier import Notifier


async def test_a_change_between_the_read_and_the_wait_is_not_missed() -> None:
    notifier = Notifier()
    with notifier.listen("task:1") as changes:
        changes.clear()
        # ... the reader reads the store here, and the change lands before it waits:
        notifier.notify("task:1")
        assert await changes.wait(0.01)
        changes.clear()
        assert not await changes.wait(0.01)


async def test_listeners_hear_only_their_key_and_leave_nothing_behind() -> None:
    notifier = Notifier()
    with notifier.listen("task:1") as mine, notifier.listen("task:2") as other:
        notifier.notify("task:2")
        assert not await mine.wait(0.01)
        assert await other.wait(0.01)
    assert notifier._listeners == {}


async def test_a_plain_wait_still_wakes_on_notify() -> None:
    notifier = Notifier()
    waiting = asyncio.ensure_future(notifier.wait("deliveries", 5))
    await asyncio.sleep(0)
    notifier.notify("deliveries")
    assert await waiting
