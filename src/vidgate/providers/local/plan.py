"""The stream of frames a generation mode produces, and what it consumed."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from PIL import Image

__all__ = ["FramePlan", "FrameStream"]

FrameStream = Generator[Image.Image, None, None]
"""RGB frames at the output size, in presentation order."""


@dataclass
class FramePlan:
    """Frames for one render, plus the seconds of input video they draw on."""

    frames: FrameStream
    input_video_duration: float = 0.0
