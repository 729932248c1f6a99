"""A gateway's own files and results reused as inputs: read from the blob store, never copied."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from conftest import RunningGateway, png_bytes, wait_terminal

SMALL = {"duration": 2, "resolution": "480P"}


def _stored_bytes(blobs: Path) -> int:
    """Bytes the blob store occupies on disk, each file counted once however many names it has."""
    seen: dict[tuple[int, int], int] = {}
    for path in blobs.rglob("*"):
        if path.is_file():
            stat = path.stat()
            seen[(stat.st_dev, stat.st_ino)] = stat.st_blocks * 512
    return sum(seen.values())


def _noise_png(size: tuple[int, int] = (1600, 1200)) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_uploaded_file_used_as_input_takes_no_second_copy(gateway: RunningGateway) -> None:
    blobs = gateway.settings.blob_dir
    with gateway.client(gateway.make_key()) as api:
        picture = _noise_png()
        upload = api.post("/v1/files", files={"file": ("noise.png", picture, "image/png")})
        assert upload.status_code == 201
        before = _stored_bytes(blobs)
        body = {**SMALL, "prompt": "reuse", "img_url": upload.json()["url"]}
        task = api.post("/v1/tasks", json=body)
        assert task.status_code == 202, task.text
        grown = _stored_bytes(blobs) - before
        assert grown < len(picture) // 4, f"the input took {grown} more bytes"
        assert wait_terminal(api, task.json()["task_id"])["status"] == "completed"


def test_a_result_used_as_input_outlives_the_deleted_original(gateway: RunningGateway) -> None:
    with gateway.client(gateway.make_key()) as api:
        first = api.post("/v1/tasks", json={**SMALL, "prompt": "source"}).json()["task_id"]
        source = wait_terminal(api, first)
        assert source["status"] == "completed"
        body = {
            **SMALL,
            "prompt": "repaint",
            "model": "wan2.1-vace-plus",
            "function": "video_repainting",
            "video_url": source["result"]["video_url"],
            "resolution": "720P",
            "duration": 5,
        }
        second = api.post("/v1/tasks", json=body)
        assert second.status_code == 202, second.text
        assert api.delete(f"/v1/videos/{first}").status_code == 200
        assert api.get(f"/v1/videos/{first}/content").status_code in (404, 410)
        done = wait_terminal(api, second.json()["task_id"])
        assert done["status"] == "completed", done
        assert api.get(done["result"]["video_url"]).status_code == 200


def test_a_gone_file_is_refused_naming_the_field(gateway: RunningGateway) -> None:
    with gateway.client(gateway.make_key()) as api:
        upload = api.post("/v1/files", files={"file": ("a.png", png_bytes(), "image/png")})
        url = upload.json()["url"]
        for path in gateway.settings.blob_dir.rglob(upload.json()["id"] + "*"):
            path.unlink()
        response = api.post("/v1/tasks", json={**SMALL, "prompt": "x", "img_url": url})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "img_url"
