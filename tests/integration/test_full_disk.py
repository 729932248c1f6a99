"""A full disk is a clear error: 507 `insufficient_storage` for submits and uploads, `/readyz`
503, no partial upload left in `blobs/tmp`; and stale scratch files are cleared at start.

The full disk is real: a small tmpfs holds the data dir (so it needs root to mount; the test
skips where it cannot), and a filler file takes the last of its space."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import RunningGateway, png_bytes, start_gateway

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk; returns the filler, whose removal frees it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def scratch(gateway: RunningGateway) -> list[str]:
    return sorted(p.name for p in (gateway.settings.blob_dir / "tmp").iterdir())


def test_a_full_disk_answers_507_and_fails_readiness(small_disk: Path) -> None:
    gateway = start_gateway(small_disk / "data", run_engine=False)
    try:
        key = gateway.make_key("disk", quota=100)
        with gateway.client(key) as api:
            assert api.get("/readyz").status_code == 200
            before = scratch(gateway)
            filler = fill(small_disk)
            upload = api.post(
                "/v1/files", files={"file": ("big.png", png_bytes(size=(900, 900)), "image/png")}
            )
            assert upload.status_code == 507, upload.text
            assert upload.json()["error"]["code"] == "insufficient_storage"
            assert "Errno" not in upload.text
            assert scratch(gateway) == before, "the partial upload was left behind"
            submits = [
                api.post("/v1/tasks", json={"prompt": f"a boat {i} " + "x" * 2000, "duration": 2})
                for i in range(20)
            ]
            codes = {answer.status_code for answer in submits}
            assert 500 not in codes, [a.text for a in submits if a.status_code == 500]
            assert codes <= {202, 507}, codes
            assert 507 in codes, "the database never ran out of room"
            full = next(a for a in submits if a.status_code == 507)
            assert full.json()["error"]["code"] == "insufficient_storage"
            ready = api.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["blobs"].startswith("unavailable")
            assert api.get("/healthz").status_code == 200

            filler.unlink()
            assert api.get("/readyz").status_code == 200
            again = api.post("/v1/files", files={"file": ("small.png", png_bytes(), "image/png")})
            assert again.status_code == 201, again.text
            assert (
                api.post("/v1/tasks", json={"prompt": "a boat", "duration": 2}).status_code == 202
            )
    finally:
        gateway.stop()


def test_stale_scratch_files_are_cleared_at_start(tmp_path: Path) -> None:
    staging = tmp_path / "data" / "blobs" / "tmp"
    staging.mkdir(parents=True)
    stale = staging / "task.dead.mp4"
    stale.write_bytes(b"half a video")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    fresh = staging / "task.live.mp4"
    fresh.write_bytes(b"another process is writing this")
    gateway = start_gateway(tmp_path / "data")
    try:
        assert not stale.exists()
        assert fresh.exists(), "a file another process may be writing was removed"
    finally:
        gateway.stop()
