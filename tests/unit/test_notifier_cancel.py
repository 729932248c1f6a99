"""A cancel that lands as a wait's notification arrives still ends the waiting task."""

from __future__ import annotations

import asyncio

from vidgate.notifier import Notifier


async def test_a_waiting_loop_ends_on_one_cancel_even_when_notified_at_once() -> None:
    notifier = Notifier()

    async def wait_forever() -> None:
        while True:
            await notifier.wait("key", 1.0)

    for _ in range(20):
        loop = asyncio.create_task(wait_forever())
        await asyncio.sleep(0.001)
        # The notification completes the waiter's future in the same turn the cancel lands.
        notifier.notify("key")
        loop.cancel()
        done, _ = await asyncio.wait([loop], timeout=2)
        assert done, "the loop outlived its cancel"
        assert loop.cancelled()


async def test_a_listener_loop_ends_on_one_cancel_even_when_notified_at_once() -> None:
    notifier = Notifier()
    with notifier.listen("key") as listener:

        async def wait_forever() -> None:
            while True:
                listener.clear()
                await listener.wait(1.0)

        for _ in range(20):
            loop = asyncio.create_task(wait_forever())
            await asyncio.sleep(0.001)
            notifier.notify("key")
            loop.cancel()
            done, _ = await asyncio.wait([loop], timeout=2)
            assert done, "the loop outlived its cancel"
            assert loop.cancelled()
