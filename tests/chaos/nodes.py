"""The processes of a multi-node deployment on one machine: gateways and workers sharing one
PostgreSQL database, started, killed and restarted as separate `vidgate` processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from postgres import PostgresCluster

__all__ = ["Node", "SharedSetup", "node_env", "terminate_connections"]

TERMINATE_ALL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


@dataclass(frozen=True)
class SharedSetup:
    """What every node must agree on: the database, the signing secret, where blobs live.

    `blob_env` is empty for blobs on a data dir every node shares, or the environment that
    selects an object store (`VIDGATE_BLOB_URL` and the `AWS_*` variables), in which case each
    node gets a data dir of its own."""

    database_url: str
    secret_key: str
    root: Path
    public_url: str
    blob_env: Mapping[str, str] = field(default_factory=dict)

    def data_dir(self, node: str) -> Path:
        return self.root / (node if self.blob_env else "shared")


def node_env(shared: SharedSetup, node: str, *, port: int | None) -> dict[str, str]:
    """The environment of one node: a gateway (with a port, engine off) or a worker."""
    env = {
        **os.environ,
        **shared.blob_env,
        "VIDGATE_DATABASE_URL": shared.database_url,
        "VIDGATE_SECRET_KEY": shared.secret_key,
        "VIDGATE_DATA_DIR": str(shared.data_dir(node)),
        "VIDGATE_PUBLIC_URL": shared.public_url,
        "VIDGATE_ALLOW_NETWORKS": "127.0.0.0/8",
        "VIDGATE_LEASE_SECONDS": "10",
        "VIDGATE_ENGINE_IDLE_INTERVAL": "0.2",
        "VIDGATE_DRAIN_TIMEOUT": "5",
        "VIDGATE_WEBHOOK_RETRY_BASE": "0.2",
        "VIDGATE_WEBHOOK_LEASE": "3",
        "VIDGATE_WEBHOOK_ATTEMPT_TIMEOUT": "2",
        "VIDGATE_SSE_HEARTBEAT": "2",
    }
    if port is not None:
        env["VIDGATE_RUN_ENGINE"] = "false"
        env["VIDGATE_HOST"] = "127.0.0.1"
        env["VIDGATE_PORT"] = str(port)
    return env


def terminate_connections(cluster: PostgresCluster) -> int:
    """Cut every client session but our own, as a failover or a restarted pooler would."""
    return int(cluster.psql(TERMINATE_ALL) or 0)


@dataclass
class Node:
    """One `vidgate serve` (with `port`) or `vidgate worker` process, restartable."""

    name: str
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _offset: int = 0

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} is a worker"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = ["serve", "--no-access-log"] if self.port is not None else ["worker"]
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as handle:
            handle.write(f"\n=== start {self.starts} ===\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vidgate.cli.main", *command],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def wait_ready(self, timeout: float = 60) -> None:
        """A gateway answers /healthz; a worker says it is running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited at start:\n{self.tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not become ready:\n{self.tail()}")

    def _ready(self) -> bool:
        if self.port is None:
            said = self.log.read_bytes()[self._offset :]
            return b"vidgate worker worker-" in said and b" running" in said
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """`kill -9`: no drain, no hand-back, leases left to lapse."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, and wait for the drain to end; the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def restart(self, tries: int = 5) -> None:
        """Start again, as a supervisor would: a start that fails (say, while the database
        is restarting) is retried."""
        for attempt in range(tries):
            self.start()
            try:
                self.wait_ready()
                return
            except AssertionError:
                if attempt == tries - 1 or self.process is None or self.process.poll() is None:
                    raise
            time.sleep(1)

    def ask_to_stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def reap(self, timeout: float) -> None:
        """Wait for the process to end; SIGKILL it after ``timeout``."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def cpu_seconds(self) -> float:
        """CPU time of the running process, 0 once it has ended."""
        with contextlib.suppress(OSError, AttributeError):
            assert self.process is not None
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return 0.0

    def tail(self, size: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_bytes()[-size:].decode(errors="replace")
        return ""
