"""What `vidgate video` shows while it waits: an ETA, the typical time, and a final line that is
the task's end, as plain lines and as the live bar on a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import RunningGateway
from vidgate.testing import FakeUpstream, Timing

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "video.py")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def environment(gateway: RunningGateway, key: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIDGATE_", "DASHSCOPE_"))}
    return {**clean, "VIDGATE_BASE_URL": gateway.url, "VIDGATE_API_KEY": key}


def plain(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal; its exit code and what it drew."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, SCRIPT, *args],
        env={**env, "TERM": "xterm", "COLUMNS": "200"},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    drawn = b""
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return process.wait(timeout=10), drawn.decode(errors="replace")


def status_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " status=" in line]


def test_plain_lines_give_an_eta_and_end_on_the_completed_state(
    gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    request = '{"prompt":"A cat running across a meadow","duration":5,"resolution":"480P"}'
    done = plain(
        ["--request", request, "--poll-interval", "1"], environment(gateway, key), tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = status_lines(done.stderr)
    assert "typical=1-3min eta=~2m00s" in lines[0], "a 5 s 720P-class job takes 1-3 min"
    assert lines[-1].endswith("status=completed video_url=ready")
    assert "eta=" not in lines[-1]
    assert not any("status=completed" in line for line in lines[:-1])
    assert done.stderr.splitlines()[-1].startswith("Video URL: ")


def test_an_upstream_without_progress_shows_its_typical_time(
    fakes: Callable[..., FakeUpstream],
    fronted: Callable[..., RunningGateway],
    tmp_path: Path,
) -> None:
    fake = fakes("dashscope", timing=Timing(queue_seconds=0.2, render_seconds=2.5))
    gateway = fronted({"ds": (fake, {})}, {"default": ["ds"]})
    request = '{"prompt":"Waves at dusk","duration":10,"resolution":"1080P"}'
    done = plain(
        ["--request", request, "--poll-interval", "1"],
        environment(gateway, gateway.make_key()),
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    running = [line for line in status_lines(done.stderr) if "status=processing" in line]
    assert running, done.stderr
    assert all("progress=" not in line or "progress=0%" in line for line in running)
    # A 10 s 1080P text-to-video job typically takes 5-10 min: 7m30s, less what has passed.
    assert re.search(r"typical=5-10min eta=~7m[0-3]\ds", running[-1]), running[-1]
    assert status_lines(done.stderr)[-1].endswith("status=completed video_url=ready")


def test_the_live_bar_is_never_redrawn_stale_after_completed(
    gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    request = '{"prompt":"A lighthouse at night","duration":5,"resolution":"720P"}'
    code, drawn = on_a_terminal(
        ["--request", request, "--poll-interval", "1"], environment(gateway, key), tmp_path
    )
    assert code == 0, drawn
    shown = ANSI.sub("", drawn).split("Video URL: ")[0]
    frames = [frame.strip() for frame in re.split(r"[\r\n]+", shown) if frame.strip()]
    assert any("status=processing" in f and "eta=~" in f for f in frames), frames
    first_completed = next(i for i, f in enumerate(frames) if "status=completed" in f)
    after = frames[first_completed:]
    assert not [f for f in after if "processing" in f], after
    assert "status=completed" in frames[-1] and "100%" in frames[-1]


def test_dashscope_answers_without_the_model_keep_their_eta(
    gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDGATE_", "DASHSCOPE_"))}
    env |= {"DASHSCOPE_API_KEY": key, "DASHSCOPE_BASE_URL": f"{gateway.url}/api/v1"}
    request = '{"prompt":"Waves at dusk","duration":5,"resolution":"720P"}'
    done = plain(["--request", request, "--poll-interval", "1"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    *waiting, last = status_lines(done.stderr)
    assert any("status=RUNNING" in line for line in waiting), done.stderr
    assert all(" eta=" in line for line in waiting), waiting
    assert last.endswith("status=SUCCEEDED video_url=ready")
