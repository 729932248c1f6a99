"""An upstream's API calls as the provider sees them: what a submit sends, and the error
class of an upstream that stalls, cannot be reached or answers garbage."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from vidgate.catalog import Shape
from vidgate.models import Mode, Status, VideoRequest
from vidgate.netguard import GuardedFetcher
from vidgate.providers.registry import dialect_of
from vidgate.providers.upstream import UpstreamError, UpstreamProvider
from vidgate.settings import ProviderConfig
from vidgate.testing import FakeUpstream, Timing

SHAPE = Shape(width=1280, height=720, fps=24, duration=5, resolution="720P", ratio="16:9")
REQUEST = VideoRequest(prompt="a kite — über the dunes", model="wan2.6-t2v", mode=Mode.T2V)


def provider(base_url: str, timeout: float = 5.0) -> UpstreamProvider:
    config = ProviderConfig(
        kind="dashscope",
        base_url=base_url,
        api_key="sk-test",
        requests_per_second=1000,
        timeout=timeout,
    )
    return UpstreamProvider("ds", config, dialect_of(config), ["sk-test"], GuardedFetcher([], 5))


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(
        "dashscope", timing=Timing(queue_seconds=0.05, render_seconds=60)
    ) as up:
        yield up


async def test_a_submit_and_its_polls_reach_the_upstream_as_sent(fake: FakeUpstream) -> None:
    ds = provider(fake.base_url)
    try:
        submitted = await ds.submit(REQUEST, SHAPE, None)
        assert submitted.upstream_id in fake.tasks
        assert fake.tasks[submitted.upstream_id].body["input"]["prompt"] == REQUEST.prompt
        polled = await ds.poll(submitted.upstream_id, submitted.credential)
        assert polled.task.status in (Status.QUEUED, Status.PROCESSING)
        assert fake.counters.calls("submit") == 1
    finally:
        await ds.aclose()


async def test_a_stalled_upstream_is_a_timeout(fake: FakeUpstream) -> None:
    ds = provider(fake.base_url, timeout=0.3)
    try:
        submitted = await ds.submit(REQUEST, SHAPE, None)
        fake.faults.hang = True
        with pytest.raises(UpstreamError) as caught:
            await asyncio.wait_for(ds.poll(submitted.upstream_id, submitted.credential), 5)
        assert (caught.value.kind, caught.value.code) == ("transient", "upstream_timeout")
        fake.faults.hang = False
        polled = await ds.poll(submitted.upstream_id, submitted.credential)
        assert polled.task.status in (Status.QUEUED, Status.PROCESSING)
    finally:
        await ds.aclose()


async def test_an_upstream_nobody_listens_at_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ds = provider(f"http://127.0.0.1:{port}/api/v1")
    try:
        with pytest.raises(UpstreamError) as caught:
            await ds.poll("task-1", "0")
        assert (caught.value.kind, caught.value.code) == ("transient", "upstream_unreachable")
        assert "127.0.0.1" in caught.value.message
    finally:
        await ds.aclose()


async def test_a_malformed_answer_is_transient(fake: FakeUpstream) -> None:
    ds = provider(fake.base_url)
    try:
        submitted = await ds.submit(REQUEST, SHAPE, None)
        fake.faults.malformed_rate = 1.0
        with pytest.raises(UpstreamError) as caught:
            await ds.poll(submitted.upstream_id, submitted.credential)
        assert (caught.value.kind, caught.value.code) == ("transient", "upstream_malformed")
    finally:
        await ds.aclose()
