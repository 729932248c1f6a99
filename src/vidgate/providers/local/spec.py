"""What the local renderer is asked to render, and what it reports back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidgate.errors import VidgateError

__all__ = ["ProgressCallback", "RenderCancelled", "RenderInfo", "RenderSpec", "StopCheck"]

ProgressCallback = Callable[[int], None]
"""Called with the percentage (0-100) of frames encoded so far."""

StopCheck = Callable[[], bool]
"""Returns True once the render should stop; the renderer then raises RenderCancelled."""


class RenderCancelled(VidgateError):
    """The render was stopped before it finished."""


@dataclass(frozen=True)
class RenderSpec:
    """A fully validated render job; every input is already a local file."""

    mode: str
    prompt: str
    width: int
    height: int
    fps: int
    duration: int
    seed: int
    model: str = ""
    negative_prompt: str | None = None
    function: str | None = None
    image: Path | None = None
    first_frame: Path | None = None
    last_frame: Path | None = None
    reference_images: tuple[Path, ...] = ()
    reference_videos: tuple[Path, ...] = ()
    video: Path | None = None
    mask_image: Path | None = None
    mask_video: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderInfo:
    """Facts about a finished render, read from the encoded file."""

    width: int
    height: int
    fps: int
    duration: float
    frames: int
    input_video_duration: float = 0.0
