"""Shared fixtures: a real gateway on loopback, keys, and media files to feed it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image

from vidgate.runtime import Runtime
from vidgate.server.app import create_app
from vidgate.service.keys import create_key
from vidgate.settings import Settings
from vidgate.store import open_store

# Fixtures only; the servers behind them start when a test asks for one.
pytest_plugins = ["upstreams", "postgres", "seaweed", "stores", "console_browser"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    """Wait up to 60 s for a `vidgate serve` process at ``url`` to answer `/healthz`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "gateway exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("gateway never became healthy")


@dataclass
class RunningGateway:
    """A gateway served by uvicorn in a thread, with helpers to make keys and clients."""

    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread
    app: FastAPI

    @property
    def url(self) -> str:
        return self.settings.base_url

    def make_key(self, name: str = "test", quota: float | None = None, admin: bool = False) -> str:
        async def make() -> str:
            store = open_store(self.settings.database)
            try:
                await store.open()
                return (await create_key(store, name, quota, admin=admin)).key
            finally:
                await store.close()

        # On a thread of its own: a Playwright test's thread already runs an event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, make()).result()

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    @property
    def runtime(self) -> Runtime:
        """The gateway's assembled parts, for tests that move its clock."""
        runtime: Runtime = self.app.state.runtime
        return runtime

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_gateway(data_dir: Path, **overrides: Any) -> RunningGateway:
    port = int(overrides.pop("port", 0)) or free_port()
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "host": "127.0.0.1",
        "port": port,
        "allow_networks": "127.0.0.0/8",
        "lease_seconds": 3.0,
        "engine_idle_interval": 0.1,
    }
    values.update(overrides)
    settings = Settings(**values)
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("gateway did not start")
        time.sleep(0.02)
    return RunningGateway(settings, server, thread, app)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    running = start_gateway(tmp_path / "data")
    yield running
    running.stop()


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    started: list[RunningGateway] = []

    def factory(**overrides: Any) -> RunningGateway:
        running = start_gateway(tmp_path / f"data{len(started)}", **overrides)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()


@pytest.fixture
def key(gateway: RunningGateway) -> str:
    return gateway.make_key()


@pytest.fixture
def api(gateway: RunningGateway, key: str) -> Iterator[httpx.Client]:
    with gateway.client(key) as client:
        yield client


def png_bytes(
    color: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (64, 48)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def wait_terminal(client: httpx.Client, task_id: str, timeout: float = 60) -> dict[str, Any]:
    """Long-poll a task until it ends, as a client would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/tasks/{task_id}", params={"wait": 10})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
    raise AssertionError(f"task {task_id} did not finish in {timeout}s")
