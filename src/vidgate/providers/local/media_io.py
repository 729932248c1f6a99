"""Reading input images, masks and videos as RGB frames at the output size."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import Interpolation
from PIL import Image, ImageOps

from vidgate.inputs import LIMIT_TEXT, MediaTooLarge, check_pixels
from vidgate.providers.local.plan import FrameStream

__all__ = [
    "EXACT_SCALING",
    "VideoReader",
    "fit_cover",
    "load_image",
    "load_mask",
    "probe_duration",
]

EXACT_SCALING = Interpolation.BILINEAR | Interpolation.BITEXACT | Interpolation.ACCURATE_RND
"""swscale flags that give the same pixels on every CPU."""

_EPSILON = 1e-6
log = logging.getLogger("vidgate.render")


def _open_picture(path: Path) -> Image.Image:
    """The decoded image; a ValueError that names no path (it may reach the client) when it
    cannot be read or is past the input pixel limits, checked from the header before decoding.
    """
    try:
        with Image.open(path) as opened:
            check_pixels(*opened.size)
            picture = ImageOps.exif_transpose(opened)
            picture.load()
            return picture
    except MediaTooLarge as exc:
        raise ValueError(f"an input image {exc}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"an input image has too many pixels; {LIMIT_TEXT}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        log.warning("cannot read image %s: %s", path, exc)
        raise ValueError("an input image cannot be read") from exc


def load_image(path: Path) -> Image.Image:
    """Open an image as RGB, honouring EXIF orientation and flattening transparency onto black."""
    picture = _open_picture(path)
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        picture = Image.alpha_composite(backdrop, rgba)
    return picture.convert("RGB")


def load_mask(path: Path, width: int, height: int) -> Image.Image:
    """Open a mask as greyscale (white selects), cover-fitted to ``width`` x ``height``."""
    return fit_cover(_open_picture(path).convert("L"), width, height)


def fit_cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale ``image`` to fill ``width`` x ``height``, cropping the overflow around the centre."""
    if image.size == (width, height):
        return image.copy()
    return ImageOps.fit(image, (width, height), method=Image.Resampling.BILINEAR)


def probe_duration(path: Path) -> float:
    """Length in seconds of the first video stream in ``path``."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError("an input video has no video stream")
            stream = container.streams.video[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            if container.duration:
                return container.duration / av.time_base
            rate = float(stream.average_rate or 25)
            last = None
            for frame in container.decode(stream):
                if frame.pts is not None:
                    last = frame.time
            return 0.0 if last is None else last + 1.0 / rate
    except av.FFmpegError as exc:
        log.warning("cannot read video %s: %s", path, exc)
        raise ValueError("an input video cannot be read") from exc


class VideoReader:
    """Streams a video's frames resampled to a fixed rate and cover-fitted to a fixed size."""

    def __init__(self, path: Path, width: int, height: int, fps: int) -> None:
        self.path = path
        self.width = width
        self.height = height
        self.fps = fps
        self.duration = probe_duration(path)

    def frames(self, *, loop: bool) -> FrameStream:
        """Yield frames at ``fps``; start over at the end when ``loop``, else stop with the clip."""
        while True:
            yield from self._single_pass()
            if not loop:
                return

    def _single_pass(self) -> FrameStream:
        step = 1.0 / self.fps
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                timed = self._timed_frames(container.decode(stream), stream.average_rate)
                current = next(timed, None)
                if current is None:
                    raise ValueError("an input video has no decodable frames")
                upcoming = next(timed, None)
                fitted: tuple[av.VideoFrame, Image.Image] | None = None
                index = 0
                while True:
                    moment = index * step
                    while upcoming is not None and upcoming[0] <= moment + _EPSILON:
                        current, upcoming = upcoming, next(timed, None)
                    if index and upcoming is None:
                        end = self.duration if self.duration > current[0] else current[0] + step
                        if moment >= end - _EPSILON:
                            return
                    if fitted is None or fitted[0] is not current[1]:
                        fitted = (current[1], self._fit(current[1]))
                    yield fitted[1].copy()
                    index += 1
        except av.FFmpegError as exc:
            log.warning("cannot decode video %s: %s", self.path, exc)
            raise ValueError("an input video cannot be decoded") from exc

    @staticmethod
    def _timed_frames(
        frames: Iterator[av.VideoFrame], rate: Fraction | None
    ) -> Iterator[tuple[float, av.VideoFrame]]:
        fallback_step = 1.0 / float(rate) if rate else 0.04
        start: float | None = None
        for count, frame in enumerate(frames):
            stamp = frame.time if frame.pts is not None else None
            moment = stamp if stamp is not None else count * fallback_step
            if start is None:
                start = moment
            yield moment - start, frame

    def _fit(self, frame: av.VideoFrame) -> Image.Image:
        scale = max(self.width / frame.width, self.height / frame.height)
        scaled_w = max(self.width, round(frame.width * scale))
        scaled_h = max(self.height, round(frame.height * scale))
        pixels = frame.to_ndarray(
            width=scaled_w, height=scaled_h, format="rgb24", interpolation=EXACT_SCALING
        )
        picture = Image.fromarray(pixels, "RGB")
        if picture.size != (self.width, self.height):
            left = (scaled_w - self.width) // 2
            top = (scaled_h - self.height) // 2
            picture = picture.crop((left, top, left + self.width, top + self.height))
        return picture
