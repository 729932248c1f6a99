"""A throwaway PostgreSQL cluster for the tests, and a fresh database in it for each test.

The cluster is started once per session from the server binaries (`initdb`, `postgres`) with
durability switched off, listens on 127.0.0.1 at a free port, and is removed at the end.
PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user.

tests/conftest.py registers this module as a plugin, so every test can ask for the fixtures;
the cluster starts only when one does. They are not in a conftest.py under tests/unit or
tests/integration: pytest imports every conftest.py as the module `conftest`, and the last one
imported would hide tests/conftest.py from the test modules that say `from conftest import ...`.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PostgresCluster", "find_bin_dir", "postgres_cluster", "postgres_url", "start_cluster"]

BIN_DIRS = [f"/usr/lib/postgresql/{v}/bin" for v in range(18, 12, -1)] + [
    "/usr/pgsql/bin",
    "/usr/local/pgsql/bin",
]
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
    "dynamic_shared_memory_type": "mmap",
    "max_wal_size": "1GB",
    "log_min_messages": "warning",
}


def find_bin_dir() -> Path | None:
    """Where `initdb` and `postgres` are: $VIDGATE_PG_BIN, a usual place, or the PATH."""
    candidates = [os.environ.get("VIDGATE_PG_BIN", ""), *BIN_DIRS]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if all((path / name).is_file() for name in ("initdb", "postgres", "psql")):
            return path
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresCluster:
    """A running server; `create_database` makes an empty database and returns its URL."""

    bin_dir: Path
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    _names: Iterator[int]

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                *("-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database),
                *("-c", sql),
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def create_database(self) -> str:
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def restart(self) -> None:
        """Stop the server as an operator would (fast shutdown, sessions cut) and start it
        again on the same port and data. On Linux the server stops when the thread that
        started it ends, so call this from a thread that outlives the server."""
        self._shut_down()
        self.process = _launch(self.bin_dir, self.root, self.port)
        if not _wait_ready(self):
            raise RuntimeError(f"PostgreSQL did not restart:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self._shut_down()
        shutil.rmtree(self.root, ignore_errors=True)

    def _shut_down(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: disconnect sessions, stop
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a preexec hook that stops the server if the test process dies first."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGQUIT)

    return hook


def _as_postgres() -> dict[str, Any]:
    """Popen arguments that drop root to the `postgres` user; none when not root."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _workdir(drop: dict[str, Any]) -> Path:
    """A fresh directory the server's user owns; under root, one that user can reach."""
    base = Path(tempfile.gettempdir())
    if drop and not all(os.stat(p).st_mode & 0o001 for p in [base, *base.parents]):
        base = Path("/tmp")
    root = Path(tempfile.mkdtemp(prefix="vidgate-pg-", dir=base))
    if drop:
        os.chown(root, drop["user"], drop["group"])
    return root


def _launch(bin_dir: Path, root: Path, port: int) -> subprocess.Popen[bytes]:
    """Start the server on the cluster in ``root``, appending to its log."""
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    options = [f"-c{name}={value}" for name, value in {**SETTINGS, "port": port}.items()]
    with open(root / "server.log", "ab") as log:
        return subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(root / "data"), "-k", str(root), *options],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
            **_as_postgres(),
        )


def start_cluster(bin_dir: Path) -> PostgresCluster:
    """initdb a cluster with trust auth in a temporary directory and start it."""
    drop = _as_postgres()
    root = _workdir(drop)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                *("-D", str(root / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8"),
                *("--locale=C", "--no-sync", "--no-instructions"),
            ],
            cwd=root,
            env=env,
            capture_output=True,
            check=True,
            **drop,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from None
    last_error = ""
    for _ in range(5):
        port = _free_port()
        process = _launch(bin_dir, root, port)
        cluster = PostgresCluster(bin_dir, root, port, process, itertools.count())
        if _wait_ready(cluster):
            return cluster
        last_error = cluster.log.read_text(errors="replace")[-2000:]
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start:\n{last_error}")


def _wait_ready(cluster: PostgresCluster, timeout: float = 30) -> bool:
    """Wait until the postmaster reports itself ready; False if it exited first."""
    pid_file = cluster.root / "data" / "postmaster.pid"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.process.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            lines = pid_file.read_text().splitlines()
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL server for the whole session; skipped where it is not installed."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, postgres, psql) not found; "
            "install them or set VIDGATE_PG_BIN"
        )
    cluster = start_cluster(bin_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """The async URL of a new, empty database, so each test starts from nothing."""
    return postgres_cluster.create_database()
