"""`vidgate keys`: create (admin too), list, revoke, rotate, set-quota and set-limits, against
a running gateway on the same data directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import RunningGateway, start_gateway
from vidgate.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGateway]:
    running = start_gateway(tmp_path / "data", run_engine=False)
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(tmp_path / "data"))
    yield running
    running.stop()


def vidgate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["keys", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_key_commands_against_a_running_gateway(
    gateway: RunningGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = vidgate(capsys, "create", "--name", "boss", "--admin")
    assert code == 0
    [admin_key] = out.split()
    code, out, _ = vidgate(capsys, "create", "--name", "team", "--quota", "10")
    [team_key] = out.split()
    with gateway.client(admin_key) as admin, gateway.client(team_key) as team:
        team_id = team.get("/v1/account").json()["key_id"]
        assert admin.get("/admin/v1/keys").status_code == 200
        assert team.get("/admin/v1/keys").status_code == 403

        code, out, _ = vidgate(capsys, "list")
        assert code == 0
        header, *rows = out.splitlines()
        assert header.split() == [
            "ID",
            "NAME",
            "PREFIX",
            "ROLE",
            "QUOTA",
            "USED",
            "RESERVED",
            "LIMITS",
            "STATE",
        ]
        assert [row.split()[1:5] for row in rows[:1]] == [
            ["boss", f"{admin_key[:7]}…", "admin", "unlimited"]
        ]
        assert [row.split()[:5] for row in rows[1:]] == [
            [team_id, "team", f"{team_key[:7]}…", "user", "10s"],
        ]
        secrets = [admin_key, team_key, team.get("/v1/account").json()["webhook_secret"]]
        assert not any(secret in out for secret in secrets)

        assert vidgate(capsys, "set-quota", team_id, "--top-up", "5")[0] == 0
        assert team.get("/v1/account").json()["quota"] == 15
        assert vidgate(capsys, "set-quota", team_id, "--unlimited")[0] == 0
        assert team.get("/v1/account").json()["unlimited"] is True
        code, out, _ = vidgate(capsys, "set-limits", team_id, "--max-in-flight", "3")
        assert code == 0 and "in_flight=3" in out
        shown = admin.get(f"/admin/v1/keys/{team_id}").json()
        assert (shown["max_in_flight"], shown["max_submits_per_minute"]) == (3, None)

        code, out, _ = vidgate(capsys, "rotate", team_id)
        [rotated] = out.split()
        assert code == 0 and rotated != team_key
        assert team.get("/v1/account").status_code == 401
        with gateway.client(rotated) as renewed:
            assert renewed.get("/v1/account").json()["key_id"] == team_id
            code, out, _ = vidgate(capsys, "revoke", team_id)
            assert code == 0 and "revoked" in out
            assert renewed.get("/v1/account").status_code == 401

        actions = [e["action"] for e in admin.get("/admin/v1/audit").json()["data"]]
        assert actions[:5] == [
            "key.revoke",
            "key.rotate",
            "key.set_limits",
            "key.set_quota",
            "key.top_up",
        ]
        assert {e["actor"] for e in admin.get("/admin/v1/audit").json()["data"]} == {"cli"}


def test_key_commands_name_what_is_wrong(
    gateway: RunningGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vidgate(capsys, "create", "--name", "x", "--quota", "-1")[2].strip() == (
        "vidgate: --quota must be a finite number, zero or more."
    )
    code, out, err = vidgate(capsys, "revoke", "key_nope")
    assert (code, out) == (1, "") and err == "vidgate: No key 'key_nope'.\n"
    code, _, err = vidgate(capsys, "set-limits", "key_nope", "--max-in-flight", "0")
    assert code == 1 and err.startswith("vidgate: --max-in-flight must be")
    with pytest.raises(SystemExit) as usage:
        main(["keys", "set-quota", "key_x"])
    assert usage.value.code == 2
    assert (
        "one of the arguments --quota --unlimited --top-up is required" in capsys.readouterr().err
    )
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200


@pytest.mark.skipif(not (shutil.which("jq") and shutil.which("curl")), reason="needs jq, curl")
def test_the_admin_api_example_runs_as_written(gateway: RunningGateway, tmp_path: Path) -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    section = operations.split("## Admin API", 1)[1]
    [script] = re.findall(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "GW": gateway.url, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["180", "[2,30]"]
    assert lines[3:5] == ["cancelled", '["reserve","refund"]']
    assert '"provider":"local"' in lines[5] and lines[7] == "401"
    assert [line.split()[0] for line in lines[8:]] == [
        "key.revoke",
        "key.set_limits",
        "key.top_up",
        "key.create",
    ]
