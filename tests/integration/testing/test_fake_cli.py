"""`vidgate fake-upstream` serves in the foreground, prints its URL and stops on a signal."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx
import pytest

from vidgate.cli import fake_upstream

SYNTHESIS = "/services/aigc/video-generation/video-synthesis"


def test_the_cli_serves_a_fake_until_interrupted() -> None:
    command = [
        *(sys.executable, "-m", "vidgate.cli.fake_upstream", "dashscope"),
        *("--port", "0", "--queue-seconds", "0", "--render-seconds", "0"),
        *("--key", "sk-cli", "--fail-submits", "Throttling.RateQuota", "--fail-submits-count", "1"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("vidgate fake-upstream dashscope listening on http://127.0.0.1:")
        base_url = banner.split("(base URL ")[1].split(")")[0]
        assert base_url.endswith("/api/v1")
        headers = {"Authorization": "Bearer sk-cli", "X-DashScope-Async": "enable"}
        with httpx.Client(base_url=base_url, headers=headers, verify=False) as client:
            throttled = client.post(SYNTHESIS, json={"model": "wan2.6-t2v", "input": {}})
            created = client.post(SYNTHESIS, json={"model": "wan2.6-t2v", "input": {}})
            task_id = created.json()["output"]["task_id"]
            done = client.get(f"/tasks/{task_id}").json()
            refused = client.get(f"/tasks/{task_id}", headers={"Authorization": "Bearer other"})
        assert throttled.status_code == 429
        assert done["output"]["task_status"] == "SUCCEEDED"
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "stopped" in stderr


def test_the_cli_refuses_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert fake_upstream.main(["kik", "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
