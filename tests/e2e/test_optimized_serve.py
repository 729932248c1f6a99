"""`vidgate serve` restarts itself as `python -OO`, leaving its libraries' docstrings out of
memory, and serves the same OpenAPI document as a process that keeps them; `PYTHONOPTIMIZE`
set by the operator keeps the interpreter as started."""

from __future__ import annotations

import os
import py_compile
import signal
import subprocess
import sys
from importlib.util import cache_from_source
from pathlib import Path

import httpx
import pytest

from conftest import free_port, wait_healthy
from vidgate.cli.main import _has_optimized_bytecode
from vidgate.server.app import create_app
from vidgate.settings import Settings


def _environment(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env.pop("PYTHONOPTIMIZE", None)
    return {
        **env,
        "VIDGATE_DATA_DIR": str(tmp_path / "data"),
        "VIDGATE_PORT": str(port),
        "VIDGATE_RUN_ENGINE": "false",
        **extra,
    }


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        command = [sys.executable, "-m", "vidgate.cli.main", "serve", "--no-access-log"]
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _interpreter_options(pid: int) -> list[str]:
    """The options the process's interpreter runs with, before `-m`."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return argv[1 : argv.index("-m")]


def _stop(gateway: subprocess.Popen[bytes]) -> bool:
    """SIGTERM; whether the gateway then stopped as uvicorn does (passing the signal on)."""
    gateway.send_signal(signal.SIGTERM)
    return gateway.wait(timeout=30) in (0, -signal.SIGTERM)


def test_serve_runs_optimized_with_the_same_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    env = _environment(tmp_path, port)
    gateway = _serve(env, tmp_path / "gateway.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", gateway)
        assert _interpreter_options(gateway.pid) == ["-OO"]
        served = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=30).json()
    finally:
        assert _stop(gateway), (tmp_path / "gateway.log").read_text()
    for name, value in env.items():
        if name.startswith("VIDGATE_"):
            monkeypatch.setenv(name, value)
    assert not sys.flags.optimize
    expected = create_app(Settings()).openapi()
    assert served == expected
    descriptions = [
        op.get("description") for path in served["paths"].values() for op in path.values()
    ]
    assert sum(1 for text in descriptions if text) > 40


def test_pythonoptimize_keeps_the_interpreter_as_started(tmp_path: Path) -> None:
    port = free_port()
    gateway = _serve(_environment(tmp_path, port, PYTHONOPTIMIZE="0"), tmp_path / "gateway.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", gateway)
        assert _interpreter_options(gateway.pid) == []
    finally:
        assert _stop(gateway), (tmp_path / "gateway.log").read_text()


def test_optimized_only_where_its_bytecode_is_there_or_can_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "vidgate_probe_module.py"
    source.write_text('"""A module to look up."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert not _has_optimized_bytecode("vidgate_probe_module")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert _has_optimized_bytecode("vidgate_probe_module")  # written on first use
    cached = cache_from_source(str(source), optimization=2)
    py_compile.compile(str(source), cfile=cached, optimize=2, doraise=True)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert _has_optimized_bytecode("vidgate_probe_module")
