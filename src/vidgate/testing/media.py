"""Real media for fake results: a small H.264 MP4 from vidgate's local renderer, cached."""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

from PIL import Image

from vidgate.providers.local.render import render_video
from vidgate.providers.local.spec import RenderSpec

__all__ = ["SAMPLE_FPS", "SAMPLE_SIZE", "sample_image", "sample_video"]

SAMPLE_SIZE = (160, 96)
SAMPLE_FPS = 8
MAX_SIDE = 1920


@functools.lru_cache(maxsize=16)
def sample_video(
    width: int = SAMPLE_SIZE[0],
    height: int = SAMPLE_SIZE[1],
    seconds: int = 1,
    fps: int = SAMPLE_FPS,
) -> bytes:
    """The bytes of a real MP4 of this shape, rendered once per shape and kept in memory."""
    width = max(2, min(MAX_SIDE, width)) // 2 * 2
    height = max(2, min(MAX_SIDE, height)) // 2 * 2
    spec = RenderSpec(
        mode="t2v",
        prompt="vidgate fake upstream",
        width=width,
        height=height,
        fps=fps,
        duration=max(1, seconds),
        seed=7,
        model="fake",
    )
    with tempfile.TemporaryDirectory(prefix="vidgate-fake-") as folder:
        path = Path(folder) / "sample.mp4"
        render_video(spec, path)
        return path.read_bytes()


@functools.lru_cache(maxsize=8)
def sample_image(
    width: int = SAMPLE_SIZE[0], height: int = SAMPLE_SIZE[1], fmt: str = "WEBP"
) -> bytes:
    """A flat image, for thumbnails and sprite sheets."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 110, 170)).save(buffer, format=fmt)
    return buffer.getvalue()
