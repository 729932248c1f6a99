"""One receiver cannot stall another's webhooks: slow drips and huge answers cost others nothing.

Seventy receivers answer `200 OK` and then one byte every few seconds (slow enough that no
single read times out), and one answers a 300 MB body. A healthy receiver of another key must
still get each of its events within two seconds of its task finishing, and the gateway (here,
in this process) must not buffer the huge answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningGateway, wait_terminal
from receiver import Receiver, start_receiver

DRIPS = 70
DRIP_EVERY = 4.0
HUGE = 300 * 1024 * 1024
CHUNK = b"\0" * (1024 * 1024)
ATTEMPT_TIMEOUT = 2.0
SHARE = 4
LAG = 2.0
RSS_GROWTH = 100 * 1024 * 1024
QUEUED_ONLY = {"prompt": "hook", "duration": 2, "resolution": "480P"}


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class BadReceivers:
    """Drip receivers and one huge-answer receiver, served by one event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ports: list[int] = []
        self.huge_port = 0
        self.connections = 0
        self.open: dict[int, int] = {}
        self.most_open: dict[int, int] = {}
        self.huge_requests = 0
        self.huge_sent = 0
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)

    async def _start(self) -> None:
        for _ in range(DRIPS):
            server = await asyncio.start_server(self._drip, "127.0.0.1", 0)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        huge = await asyncio.start_server(self._huge, "127.0.0.1", 0)
        self._servers.append(huge)
        self.huge_port = huge.sockets[0].getsockname()[1]

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                await reader.readexactly(int(value))

    async def _drip(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.closing(writer), contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await self._read_request(reader)
            port = writer.get_extra_info("sockname")[1]
            self.connections += 1
            self.open[port] = self.open.get(port, 0) + 1
            self.most_open[port] = max(self.most_open.get(port, 0), self.open[port])
            try:
                writer.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                while True:
                    await writer.drain()
                    try:
                        if not await asyncio.wait_for(reader.read(1), DRIP_EVERY):
                            break  # the gateway hung up
                    except TimeoutError:
                        writer.write(b"a")
            finally:
                self.open[port] -= 1

    async def _huge(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.closing(writer), contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await self._read_request(reader)
            self.huge_requests += 1
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n".encode())
            while self.huge_sent < HUGE:
                writer.write(CHUNK)
                self.huge_sent += len(CHUNK)
                await writer.drain()

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/hook" for port in self.ports]

    @property
    def huge_url(self) -> str:
        return f"http://127.0.0.1:{self.huge_port}/hook"

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class PeakRss:
    """Samples this process's RSS until stopped; the gateway runs in this process."""

    def __init__(self) -> None:
        self.idle = rss()
        self.peak = self.idle
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, rss())

    def stop(self) -> int:
        self._done.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, rss())
        return self.peak - self.idle


@pytest.fixture
def bad() -> Iterator[BadReceivers]:
    receivers = BadReceivers()
    yield receivers
    receivers.close()


@pytest.fixture
def healthy() -> Iterator[Receiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.timeout(90)
def test_slow_and_huge_receivers_do_not_delay_another_keys_webhooks(
    gateway_factory: Any, bad: BadReceivers, healthy: Receiver
) -> None:
    gateway: RunningGateway = gateway_factory(
        webhook_attempt_timeout=ATTEMPT_TIMEOUT,
        webhook_host_concurrency=SHARE,
        webhook_retry_base=30.0,
    )
    attacker, victim = gateway.make_key("attacker"), gateway.make_key("victim")
    events = ["task.queued", "task.processing", "task.completed"]
    with gateway.client(victim) as api:
        # Warm up: the renderer's and the deliverer's first use allocate for good.
        body = {**QUEUED_ONLY, "callback_url": healthy.url, "webhook_events": events}
        wait_terminal(api, api.post("/v1/tasks", json=body).json()["task_id"])
        wait_until(lambda: len(healthy.received) >= 3, 10, "the warm-up's events")
    with gateway.client(attacker) as api:
        # task.queued is delivered at submit; cancelling at once spares the renders' CPU.
        def hook(url: str) -> str:
            body = {**QUEUED_ONLY, "callback_url": url, "webhook_events": ["task.queued"]}
            task_id: str = api.post("/v1/tasks", json=body).json()["task_id"]
            api.post(f"/v1/tasks/{task_id}/cancel")
            return task_id

        # Idle: only the huge answer may move RSS now.
        memory = PeakRss()
        huge_task = hook(bad.huge_url)

        def huge_answered() -> bool:
            log = api.get(f"/v1/tasks/{huge_task}/deliveries").json()["data"]
            return bool(log and log[0]["attempts"])

        wait_until(huge_answered, 20, "the huge answer to be taken")
        growth = memory.stop()
        for url in bad.urls():
            hook(url)
        # One drip receiver has many deliveries: it may hold no more than its share.
        for _ in range(SHARE * 2):
            hook(bad.urls()[0])
        # Every drip holds a connection open: before the fix that took every delivery slot.
        wait_until(lambda: bad.connections >= 64, 20, "the drip receivers to be reached")

    lags: list[float] = []
    with gateway.client(victim) as api:
        for n in range(3):
            body = {**QUEUED_ONLY, "callback_url": healthy.url, "webhook_events": events}
            task_id = api.post("/v1/tasks", json=body).json()["task_id"]
            finished = datetime.fromisoformat(wait_terminal(api, task_id)["finished_at"])
            want = 3 * (n + 2)
            deadline = finished.timestamp() + LAG + 8
            while len(healthy.received) < want and time.time() < deadline:
                time.sleep(0.01)
            lags.append(time.time() - finished.timestamp())
    most = max(bad.most_open.values())
    measured = (
        f"healthy lag {max(lags):.2f}s, RSS growth {growth / 2**20:.0f} MB, "
        f"{most} connections at once to one receiver"
    )
    assert max(lags) < LAG and growth < RSS_GROWTH and most <= SHARE, measured
    assert bad.huge_sent < HUGE, "the huge answer was read to its end"


def test_a_failing_receiver_is_paused_and_its_deliveries_rescheduled(
    gateway_factory: Any, healthy: Receiver
) -> None:
    gateway: RunningGateway = gateway_factory(
        webhook_breaker_failures=3, webhook_host_concurrency=1, webhook_retry_base=2.0
    )
    healthy.down = True
    with gateway.client(gateway.make_key()) as api:
        tasks = []
        for _ in range(6):
            body = {**QUEUED_ONLY, "callback_url": healthy.url, "webhook_events": ["task.queued"]}
            tasks.append(api.post("/v1/tasks", json=body).json()["task_id"])
            api.post(f"/v1/tasks/{tasks[-1]}/cancel")

        def logs() -> list[dict[str, Any]]:
            return [api.get(f"/v1/tasks/{t}/deliveries").json()["data"][0] for t in tasks]

        wait_until(lambda: all(d["attempts"] for d in logs()), 10, "a first attempt each")
        first = [d["attempts"][0] for d in logs()]
        assert sum(a["status_code"] == 503 for a in first) == 3
        skipped = [a for a in first if a["status_code"] is None]
        assert len(skipped) == 3
        assert all(a["error"].startswith("skipped: receiver failed 3 times") for a in skipped)
        assert all(d["status"] == "pending" for d in logs())
        healthy.down = False
        wait_until(lambda: all(d["status"] == "delivered" for d in logs()), 30, "every delivery")
    assert len(healthy.received) == 6
