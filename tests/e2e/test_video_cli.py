"""`scripts/video.py` and `vidgate video`, run as subprocesses against a real gateway.

The command lines are seed 000's, with `"resolution":"480P"` added to keep renders small.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningGateway
from vidgate.cli import video
from vidgate.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "video.py")
REQUEST = '{"prompt":"A cat running across a meadow","duration":5,"resolution":"480P"}'


def run(
    args: list[str], env: dict[str, str], cwd: Path, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIDGATE_", "DASHSCOPE_"))}
    return subprocess.run(
        [python, SCRIPT, *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def gateway_env(gateway: RunningGateway, key: str) -> dict[str, str]:
    return {"VIDGATE_BASE_URL": gateway.url, "VIDGATE_API_KEY": key}


def test_submit_check_and_resume_as_seed_000_shows(
    gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    env = gateway_env(gateway, key)
    submitted = run(["--request", REQUEST, "--submit-only"], env, tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    assert submitted.stdout == f"{task_id}\n"
    assert submitted.stderr.splitlines() == [
        "Mode: t2v | Model: wan2.6-t2v",
        f"Task submitted: {task_id}",
    ]

    resumed = run(
        [
            *("--task-id", task_id, "--poll-interval", "10", "--timeout", "300"),
            *("--output", "output/qianwen-video-generation/", "--print-response"),
        ],
        env,
        tmp_path,
    )
    exited = time.time()
    assert resumed.returncode == 0, resumed.stderr
    lines = resumed.stderr.splitlines()
    assert lines[:2] == [f"Resuming task: {task_id}", "Polling every 10s (timeout: 300s)..."]
    assert lines[2].startswith(f"[0s] task={task_id} status=")
    assert any(f"task={task_id} status=completed video_url=ready" in line for line in lines)
    printed = json.loads(resumed.stdout)
    folder = tmp_path / "output" / "qianwen-video-generation"
    assert printed["local_path"] == f"output/qianwen-video-generation/{task_id}.mp4"
    assert (tmp_path / printed["local_path"]).read_bytes()[4:8] == b"ftyp"
    saved = json.loads((folder / "response.json").read_text())
    assert saved["status"] == "completed" and saved["result"]["video_url"] == printed["video_url"]
    finished = datetime.fromisoformat(saved["finished_at"].replace("Z", "+00:00"))
    assert exited - finished.timestamp() < 4, "seen at once, not at the next 10 s poll"
    assert f"Video URL: {printed['video_url']}" in lines

    again = run(["--task-id", task_id, "--poll-once", "--print-response"], env, tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["local_path"] is None


def test_poll_once_exits_2_while_running_with_the_full_json(
    gateway_factory: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    gateway = gateway_factory(run_engine=False)
    env = gateway_env(gateway, gateway.make_key())
    task_id = run(["--request", REQUEST, "--submit-only", "-q"], env, tmp_path).stdout.strip()
    checked = run(
        ["--task-id", task_id, "--poll-once", "--output", "out/", "--print-response"],
        env,
        tmp_path,
    )
    assert checked.returncode == 2
    body: dict[str, Any] = json.loads(checked.stdout)
    assert (body["task_id"], body["status"], body["model"]) == (task_id, "queued", "wan2.6-t2v")
    assert checked.stderr.strip() == f"[0s] task={task_id} status=queued"
    assert not (tmp_path / "out").exists()

    timed_out = run(
        ["--task-id", task_id, "--poll-interval", "0.2", "--timeout", "0.5"], env, tmp_path
    )
    assert timed_out.returncode == 1
    errors = timed_out.stderr.splitlines()
    assert errors[-2].startswith(f"Error: Task {task_id} timed out after 0.5s (")
    assert errors[-2].endswith("polls, last status: queued)")
    assert errors[-1] == f"Task may still be running. Resume with: --task-id {task_id}"


def test_a_cancelled_task_reports_its_message_and_a_fix(
    gateway_factory: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    gateway = gateway_factory(run_engine=False)
    key = gateway.make_key()
    env = gateway_env(gateway, key)
    task_id = run(["--request", REQUEST, "--submit-only"], env, tmp_path).stdout.strip()
    with gateway.client(key) as api:
        assert api.post(f"/v1/tasks/{task_id}/cancel").status_code == 200
    for extra in (["--poll-once"], ["--poll-interval", "1"]):
        ended = run(["--task-id", task_id, *extra], env, tmp_path)
        assert ended.returncode == 1
        assert "Error: Task failed (cancelled): Cancelled by the client." in ended.stderr
        assert "Suggestion: The task was cancelled; resubmit" in ended.stderr


def test_quiet_prints_only_the_response(gateway: RunningGateway, key: str, tmp_path: Path) -> None:
    quiet = run(
        [
            "--request",
            REQUEST.replace('"duration":5', '"duration":2'),
            "--quiet",
            "--print-response",
        ],
        gateway_env(gateway, key),
        tmp_path,
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    response = json.loads(quiet.stdout)
    assert response["video_url"].startswith(gateway.url) and response["local_path"] is None


def test_dashscope_directly_with_its_words_and_a_dotenv(
    gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        f"DASHSCOPE_API_KEY={key}\nDASHSCOPE_BASE_URL={gateway.url}/api/v1\n"
    )
    request = '{"prompt":"Waves at dusk","duration":2,"resolution":"480P"}'
    done = run(["--request", request, "--poll-interval", "1", "--output", "out"], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    words = {
        line.split("status=")[1].split()[0]
        for line in done.stderr.splitlines()
        if "status=" in line
    }
    assert "PENDING" in words and "SUCCEEDED" in words
    assert words <= {"PENDING", "RUNNING", "SUCCEEDED"}
    saved = json.loads((tmp_path / "out" / "response.json").read_text())
    assert saved["output"]["task_status"] == "SUCCEEDED"


def test_usage_errors_exit_1_and_help_lists_the_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIDGATE_API_KEY", "k")
    with pytest.raises(SystemExit) as usage:
        video.main([])
    assert usage.value.code == 1 and "give --request JSON" in capsys.readouterr().err
    assert video.main(["--request", "{nope"]) == 1
    assert "Error: --request is not valid JSON" in capsys.readouterr().err
    monkeypatch.delenv("VIDGATE_API_KEY")
    assert video.main(["--task-id", "x", "--poll-once"]) == 1
    assert "no API key: set VIDGATE_API_KEY" in capsys.readouterr().err
    with pytest.raises(SystemExit) as shown:
        main(["video", "--help"])
    assert shown.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: vidgate video")
    for line in ("0    completed", "1    failed, cancelled", "2    --poll-once: the task"):
        assert line in text


@pytest.mark.skipif(shutil.which("python3") is None, reason="no python3 on PATH")
def test_any_python3_runs_the_script(gateway: RunningGateway, key: str, tmp_path: Path) -> None:
    python3 = shutil.which("python3")
    assert python3 is not None
    submitted = run(
        ["--request", REQUEST, "--submit-only"], gateway_env(gateway, key), tmp_path, python3
    )
    assert submitted.returncode == 0, submitted.stderr
    assert len(submitted.stdout.strip()) == 36


def test_an_unreachable_gateway_says_to_start_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIDGATE_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("VIDGATE_API_KEY", "vg-none")
    code = video.main(["--request", '{"prompt": "x"}', "--submit-only"])
    err = capsys.readouterr().err
    assert code == 1
    assert "make serve" in err and "VIDGATE_BASE_URL" in err and str(port) in err


def test_a_missing_key_points_at_keys_create(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("VIDGATE_API_KEY", "DASHSCOPE_API_KEY", "QWEN_API_KEY", "DASHSCOPE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VIDGATE_BASE_URL", "http://127.0.0.1:9")
    assert video.main(["--request", '{"prompt": "x"}']) == 1
    assert "vidgate keys create" in capsys.readouterr().err
