"""Fakes served on loopback for one block, with an httpx client on their base URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from vidgate.testing import Dialect, FakeUpstream, Timing

KEY = "sk-test"


def fast() -> Timing:
    """Tasks that end the moment they are submitted."""
    return Timing(queue_seconds=0.0, render_seconds=0.0)


def slow() -> Timing:
    """Tasks that wait 10 s queued and render for 60 s: moved on by hand or by a ManualClock."""
    return Timing(queue_seconds=10.0, render_seconds=60.0)


@contextmanager
def serving(
    dialect: Dialect, key: str | None = KEY, timeout: float = 10, **options: Any
) -> Iterator[tuple[FakeUpstream, httpx.Client]]:
    """A started fake and a client on its base URL that sends `key` as a bearer token.

    The client also follows the fake's absolute result URLs; loopback is plain HTTP, so it
    skips loading CA certificates.
    """
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with (
        FakeUpstream(dialect, **options) as fake,
        httpx.Client(
            base_url=fake.base_url, headers=headers, timeout=timeout, verify=False
        ) as client,
    ):
        yield fake, client
