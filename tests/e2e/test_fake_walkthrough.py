"""docs/testing.md's walk-through: a gateway in front of `vidgate fake-upstream`, as written."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _walkthrough() -> str:
    text = (ROOT / "docs" / "testing.md").read_text()
    section = text[text.index("### A gateway in front of a fake") :]
    [block] = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)[:1]
    return block


def _healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


def test_the_documented_fake_walkthrough_completes_promptly(tmp_path: Path) -> None:
    fake_port, gateway_port = _free_port(), _free_port()
    script = _walkthrough().replace("8001", str(fake_port))
    script = script.replace(" &\n", " >> log 2>&1 &\necho $! >> pids\n")
    env = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(tmp_path / "data"),
        "VIDGATE_PORT": str(gateway_port),
    }
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, check=True, timeout=30)
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    try:
        url = f"http://127.0.0.1:{gateway_port}"
        _healthy(url, time.monotonic() + 30)
        key = subprocess.run(
            [sys.executable, "-m", "vidgate.cli.main", "keys", "create", "--name", "walk"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as api:
            started = time.monotonic()
            task = api.post("/v1/tasks", json={"prompt": "walk", "duration": 5}).json()
            assert task["provider"] == "fake"
            while task["status"] in ("queued", "processing"):
                assert time.monotonic() - started < 20, task
                task = api.get(f"/v1/tasks/{task['task_id']}", params={"wait": 5}).json()
            assert task["status"] == "completed", task
            # The fake needs (1 s queue + 5 s x 6 render) / 60 = about 0.5 s.
            assert time.monotonic() - started < 6
    finally:
        for pid in pids:
            os.kill(pid, 15)
