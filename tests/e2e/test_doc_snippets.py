"""The SDK examples in the README and docs/sdk.md run as written against a live gateway."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import av
import pytest

from conftest import RunningGateway

ROOT = Path(__file__).resolve().parents[2]


def _programs(document: str) -> list[str]:
    """Every python block of the document; each must be a whole program."""
    text = (ROOT / document).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


SNIPPETS = [
    pytest.param(block, id=f"{document}#{index}")
    for document in ("README.md", "docs/sdk.md")
    for index, block in enumerate(_programs(document))
]


@pytest.mark.parametrize("program", SNIPPETS)
def test_the_example_runs_as_written(program: str, gateway: RunningGateway, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VIDGATE_BASE_URL": gateway.url,
        "VIDGATE_API_KEY": gateway.make_key(),
    }
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    [video] = (tmp_path / "videos").glob("*.mp4")
    with av.open(str(video)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
