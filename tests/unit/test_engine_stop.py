"""Stopping the engine ends its loops even when one of them misses a cancel."""

from __future__ import annotations

import asyncio

from vidgate.engine.engine import cancel_until_done
from vidgate.notifier import Notifier


async def test_a_loop_woken_as_it_is_cancelled_still_stops() -> None:
    notifier = Notifier()

    async def dispatch() -> None:
        while True:
            await notifier.wait("provider:local", 1.0)

    loop = asyncio.create_task(dispatch())
    await asyncio.sleep(0.01)
    notifier.notify("provider:local")  # the wake-up and the stop land in one turn of the loop
    await asyncio.wait_for(cancel_until_done(loop), 5)
    assert loop.cancelled()


async def test_a_loop_that_ended_with_an_error_is_reaped_quietly() -> None:
    async def broken() -> None:
        raise RuntimeError("claiming failed")

    loop = asyncio.create_task(broken())
    await asyncio.sleep(0)
    await cancel_until_done(loop)
    assert isinstance(loop.exception(), RuntimeError)
