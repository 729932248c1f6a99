"""The upstream call rate: never more than `rate` calls in any second, and no slower."""

from __future__ import annotations

import asyncio
import time

from vidgate.ratelimit import CallRate


async def stamps(rate: float, calls: int) -> list[float]:
    limit = CallRate(rate)
    sent: list[float] = []

    async def call() -> None:
        await limit.acquire()
        sent.append(time.monotonic())

    await asyncio.gather(*(call() for _ in range(calls)))
    return sent


async def test_no_second_holds_more_calls_than_the_rate() -> None:
    sent = await stamps(200, 500)
    assert len(sent) == 500
    for first, later in zip(sent, sent[200:], strict=False):
        assert later - first >= 1.0, "201 calls within one second"
    took = sent[-1] - sent[0]
    assert 2.0 <= took < 3.0, f"500 calls at 200/s took {took:.2f} s"


async def test_a_quiet_limit_lets_a_second_of_calls_go_at_once() -> None:
    sent = await stamps(50, 50)
    assert sent[-1] - sent[0] < 0.2


async def test_a_rate_below_one_a_second_spaces_single_calls() -> None:
    limit = CallRate(4.0)
    assert (limit.limit, round(limit.window, 2)) == (4, 1.05)
    slow = CallRate(0.5)
    assert (slow.limit, round(slow.window, 2)) == (1, 2.1)
