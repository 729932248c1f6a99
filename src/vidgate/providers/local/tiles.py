"""Reference images and looping reference videos laid out as drifting tiles over a backdrop."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vidgate.providers.local.media_io import VideoReader
from vidgate.providers.local.motion import KenBurns
from vidgate.providers.local.plan import FrameStream
from vidgate.providers.local.procedural import PromptScene

__all__ = ["TileBoard", "grid_shape"]


def grid_shape(count: int, width: float, height: float) -> tuple[int, int]:
    """Columns and rows for ``count`` cells whose shape is closest to ``width`` x ``height``."""
    target = math.log(max(width, 1.0) / max(height, 1.0))
    best: tuple[float, int, int] | None = None
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        cell_ratio = (width / columns) / (height / rows)
        empty = columns * rows - count
        score = abs(math.log(cell_ratio) - target) + 0.35 * empty
        if best is None or score < best[0]:
            best = (score, columns, rows)
    assert best is not None
    return best[1], best[2]


@dataclass(frozen=True)
class _Slot:
    left: float
    top: float
    drift: tuple[float, float]
    frequency: tuple[float, float]
    phase: tuple[float, float]

    def position(self, moment: float) -> tuple[int, int]:
        dx = self.drift[0] * math.sin(math.tau * self.frequency[0] * moment + self.phase[0])
        dy = self.drift[1] * math.sin(math.tau * self.frequency[1] * moment + self.phase[1])
        return round(self.left + dx), round(self.top + dy)


class TileBoard:
    """A grid of image tiles (slow Ken Burns) and video tiles (looping) that drift gently."""

    def __init__(
        self,
        width: int,
        height: int,
        fps: int,
        images: Sequence[Image.Image],
        videos: Sequence[Path],
        backdrop: PromptScene,
        rng: np.random.Generator,
        *,
        fill: float = 0.9,
        reserve_bottom: int = 0,
    ) -> None:
        count = len(images) + len(videos)
        if count == 0:
            raise ValueError("at least one reference image or video is required")
        self.fps = fps
        self._backdrop = backdrop
        margin = max(2, min(width, height) // 40)
        area_w = max(4, width - 2 * margin)
        area_h = max(4, height - reserve_bottom - 2 * margin)
        columns, rows = grid_shape(count, area_w, area_h)
        cell_w, cell_h = area_w / columns, area_h / rows
        self.tile_size = (max(2, int(cell_w * fill)), max(2, int(cell_h * fill)))
        tile_w, tile_h = self.tile_size
        self._border = max(1, min(width, height) // 240)
        self._slots: list[_Slot] = []
        for index in range(count):
            row, column = divmod(index, columns)
            in_row = min(columns, count - row * columns)
            shift = (columns - in_row) * cell_w / 2
            self._slots.append(
                _Slot(
                    left=margin + shift + column * cell_w + (cell_w - tile_w) / 2,
                    top=margin + row * cell_h + (cell_h - tile_h) / 2,
                    drift=((cell_w - tile_w) * 0.35, (cell_h - tile_h) * 0.35),
                    frequency=(rng.uniform(0.12, 0.3), rng.uniform(0.12, 0.3)),
                    phase=(rng.uniform(0.0, math.tau), rng.uniform(0.0, math.tau)),
                )
            )
        self._stills = [
            KenBurns(
                image,
                tile_w,
                tile_h,
                zoom=(1.0, rng.uniform(1.08, 1.18)),
                pan_start=(rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)),
                pan_end=(rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)),
            )
            for image in images
        ]
        self._readers = [VideoReader(path, tile_w, tile_h, fps) for path in videos]

    @property
    def input_video_duration(self) -> float:
        """Total length in seconds of the reference videos."""
        return sum(reader.duration for reader in self._readers)

    def frames(self, count: int) -> FrameStream:
        """Yield ``count`` composed frames."""
        streams = [reader.frames(loop=True) for reader in self._readers]
        try:
            for index in range(count):
                progress = index / max(1, count - 1)
                moment = index / self.fps
                tiles = [still.frame(progress) for still in self._stills]
                tiles += [next(stream) for stream in streams]
                frame = self._backdrop.frame(index)
                draw = ImageDraw.Draw(frame)
                edge = self._border
                for slot, tile in zip(self._slots, tiles, strict=True):
                    left, top = slot.position(moment)
                    right, bottom = left + tile.width + edge - 1, top + tile.height + edge - 1
                    draw.rectangle((left - edge, top - edge, right, bottom), fill=(236, 236, 236))
                    frame.paste(tile, (left, top))
                yield frame
        finally:
            for stream in streams:
                stream.close()
