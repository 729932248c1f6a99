"""Easing curves and the Ken Burns zoom-and-pan over a still image."""

from __future__ import annotations

import math

from PIL import Image

from vidgate.providers.local.media_io import fit_cover

__all__ = ["KenBurns", "lerp", "smoothstep"]


def smoothstep(x: float) -> float:
    """Ease ``x`` (clamped to 0..1) with zero slope at both ends."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def lerp(start: float, end: float, amount: float) -> float:
    """Linear interpolation from ``start`` to ``end``."""
    return start + (end - start) * amount


class KenBurns:
    """A slow zoom and pan across an image, cover-fitted to the output size.

    The zoom eases from ``zoom[0]`` to ``zoom[1]``; ``swell`` adds a push-in that peaks
    halfway and returns, so both ends can show the whole image.
    """

    def __init__(
        self,
        image: Image.Image,
        width: int,
        height: int,
        *,
        zoom: tuple[float, float] = (1.0, 1.12),
        swell: float = 0.0,
        pan_start: tuple[float, float] = (0.5, 0.5),
        pan_end: tuple[float, float] = (0.5, 0.5),
    ) -> None:
        if min(zoom) < 1.0 or swell < 0.0:
            raise ValueError("Ken Burns zoom factors must be at least 1")
        self.size = (width, height)
        self._zoom = zoom
        self._swell = swell
        self._pan_start = pan_start
        self._pan_end = pan_end
        deepest = max(zoom) + swell
        self.source_size = (
            math.ceil(width * deepest - 1e-9),
            math.ceil(height * deepest - 1e-9),
        )
        self.source = self.prepare(image)

    def prepare(self, image: Image.Image) -> Image.Image:
        """``image`` cover-fitted to the working size, ready to pass to :meth:`frame`."""
        return fit_cover(image, *self.source_size)

    def frame(self, progress: float, source: Image.Image | None = None) -> Image.Image:
        """The view at ``progress`` (0 = start, 1 = end) of ``source`` or the initial image."""
        picture = self.source if source is None else source
        if picture.size == self.size:
            return picture.copy()
        eased = smoothstep(progress)
        zoom = lerp(self._zoom[0], self._zoom[1], eased) + self._swell * math.sin(math.pi * eased)
        pan_x = lerp(self._pan_start[0], self._pan_end[0], eased)
        pan_y = lerp(self._pan_start[1], self._pan_end[1], eased)
        src_w, src_h = picture.size
        box_w = src_w / zoom
        box_h = src_h / zoom
        left = (src_w - box_w) * pan_x
        top = (src_h - box_h) * pan_y
        return picture.resize(
            self.size,
            Image.Resampling.BILINEAR,
            box=(left, top, left + box_w, top + box_h),
        )
