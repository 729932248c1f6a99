"""The official Node.js `openai` SDK (pinned in tests/node/package.json) runs every
`client.videos` method against a gateway: create, retrieve, remix, extend, edit, the character
calls, list, download_content and delete."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import RunningGateway
from vidgate.testing.media import sample_video

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def test_every_videos_method_of_the_node_sdk(
    gateway: RunningGateway, key: str, tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed: it is on every machine these tests run on"
    if not (NODE_DIR / "node_modules" / "openai").is_dir():
        pytest.fail("run `npm ci --prefix tests/node` first (`make test` does)")
    character = tmp_path / "mia.mp4"
    character.write_bytes(sample_video(320, 240))
    env = {
        **os.environ,
        "BASE_URL": gateway.url,
        "API_KEY": key,
        "CHARACTER_MP4": str(character),
    }
    done = subprocess.run(
        [node, str(NODE_DIR / "openai_videos.mjs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["create"] == "completed"
    assert out["remix"] == {"from": True, "status": "completed"}
    assert (out["extend"], out["edit"]) == ("completed", "completed")
    assert out["character"] == "Mia"
    ids = out["ids"]
    assert {ids["source"], ids["remix"], ids["extend"], ids["edit"]} <= set(out["list"])
    assert out["content"] == "ftyp", "the downloaded content is not an MP4"
    assert out["deleted"] is True
    assert out["after_delete"] == {"status": 404, "type": "invalid_request_error"}
