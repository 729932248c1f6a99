"""The README's quick start, run as a reader would paste it, against a live gateway."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ORIGIN = "http://127.0.0.1:8000"


def _quick_start_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index("### Your first key")
    end = text.index("## What renders your video")
    return re.findall(r"```bash\n(.*?)```", text[start:end], flags=re.DOTALL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    blocks = _quick_start_blocks()
    assert len(blocks) == 3
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VIDGATE_DATA_DIR": str(tmp_path / "data"), "VIDGATE_PORT": str(port)}
    env.pop("VIDGATE_API_KEY", None)
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 90, 40)).save(buffer, "PNG")
    (tmp_path / "cat.png").write_bytes(buffer.getvalue())
    gateway = subprocess.Popen(
        [sys.executable, "-m", "vidgate.cli.main", "serve", "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{origin}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        script = "set -e\n" + "\n".join(blocks).replace(DEFAULT_ORIGIN, origin)
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr
        assert '"status":"completed"' in done.stdout
        assert '"object":"file"' in done.stdout
        with av.open(str(tmp_path / "video.mp4")) as container:
            assert container.streams.video[0].codec_context.name == "h264"
    finally:
        gateway.terminate()
        gateway.wait(timeout=60)
