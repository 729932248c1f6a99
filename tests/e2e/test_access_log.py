"""`vidgate serve`'s access log: uvicorn's line for every response, written within a moment
and all of it by the time the process has stopped, even where stdout writes through."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from conftest import free_port

LINE = re.compile(r'^INFO:     127\.0\.0\.1:\d+ - "(?P<request>[^"]+)" (?P<status>\d{3})$')


def _access_lines(log: Path) -> list[tuple[str, int]]:
    found = [LINE.match(line) for line in log.read_text().splitlines()]
    return [(m["request"], int(m["status"])) for m in found if m is not None]


@contextmanager
def _serving(tmp_path: Path, *args: str) -> Iterator[str]:
    """`vidgate serve ARGS` answering at the URL yielded; SIGTERM'd and waited for after."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "VIDGATE_DATA_DIR": str(tmp_path / "data"),
        "VIDGATE_PORT": str(port),
        "VIDGATE_RUN_ENGINE": "false",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        command = [sys.executable, "-m", "vidgate.cli.main", "serve", *args]
        serving = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert serving.poll() is None, log.read_text()
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        yield base
    finally:
        serving.send_signal(signal.SIGTERM)
        serving.wait(timeout=30)


def test_every_response_is_logged_soon_and_nothing_is_lost_at_shutdown(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with _serving(tmp_path) as base:
        deadline = time.monotonic() + 2
        while ("GET /healthz HTTP/1.1", 200) not in _access_lines(log):
            assert time.monotonic() < deadline, "the access line was not written within 2 s"
            time.sleep(0.02)
        with httpx.Client(base_url=base) as client:
            for index in range(50):
                client.get("/v1/tasks", params={"page": index})
            assert client.get("/v1/tasks/a%20b").status_code == 401
    lines = _access_lines(log)
    assert [s for r, s in lines if r.startswith("GET /v1/tasks?page=")] == [401] * 50
    assert lines[-1] == ("GET /v1/tasks/a%20b HTTP/1.1", 401), lines[-3:]


def test_no_access_log_writes_none(tmp_path: Path) -> None:
    with _serving(tmp_path, "--no-access-log") as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
    text = (tmp_path / "serve.log").read_text()
    assert "Application shutdown complete" in text
    assert _access_lines(tmp_path / "serve.log") == []
