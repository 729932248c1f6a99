"""`vidgate serve` and `vidgate worker` refuse to start in one clear line, before touching data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "VIDGATE_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(
        [sys.executable, "-m", "vidgate.cli.main", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_taken_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(["serve", "--port", str(port)], tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {port}" in lines[0] and "already in use" in lines[0] and "--port" in lines[0]
    assert not (tmp_path / "data" / "vidgate.db").exists()


def test_a_missing_credential_variable_is_named_with_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "providers.toml"
    config.write_text(
        '[providers.up]\nkind = "openai"\nbase_url = "https://api.example/v1"\n'
        'api_key_env = "NOPE_KEY"\n'
    )
    for command in (["serve", "--port", "1"], ["worker"]):
        done = _run(command, tmp_path, VIDGATE_CONFIG=str(config))
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        [line] = done.stderr.strip().splitlines()
        assert str(config) in line and "NOPE_KEY" in line and "export NOPE_KEY" in line


def test_make_serve_passes_port_and_host_through() -> None:
    done = subprocess.run(
        ["make", "-n", "serve", "PORT=8011", "HOST=0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    serve = [line for line in done.stdout.splitlines() if "vidgate serve" in line]
    assert serve and "--port 8011" in serve[-1] and "--host 0.0.0.0" in serve[-1], done.stdout
