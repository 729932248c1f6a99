"""Encoding a spec's frames to a deterministic H.264 MP4 file."""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter
from PIL import Image

from vidgate.providers.local.media_io import EXACT_SCALING
from vidgate.providers.local.plan import FrameStream
from vidgate.providers.local.scenes import plan_frames
from vidgate.providers.local.spec import (
    ProgressCallback,
    RenderCancelled,
    RenderInfo,
    RenderSpec,
    StopCheck,
)
from vidgate.providers.local.x264 import ENCODER_OPTIONS

__all__ = ["render_video"]

_BT709 = 1
_LIMITED_RANGE = 1


def _check(spec: RenderSpec) -> None:
    for name in ("width", "height"):
        value = getattr(spec, name)
        if value <= 0 or value % 2:
            raise ValueError(f"{name} must be a positive even number, got {value}")
    if spec.fps <= 0:
        raise ValueError(f"fps must be positive, got {spec.fps}")
    if spec.duration <= 0:
        raise ValueError(f"duration must be positive, got {spec.duration}")


class _Prefetcher:
    """Draws and converts frames on a worker thread, a few frames ahead of the encoder."""

    def __init__(self, frames: FrameStream, depth: int = 4) -> None:
        self._frames = frames
        self._queue: queue.Queue[av.VideoFrame | BaseException | None] = queue.Queue(depth)
        self._stop = threading.Event()
        self._reformatter = VideoReformatter()
        self._thread = threading.Thread(target=self._run, name="vidgate-frames", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for image in self._frames:
                if not self._put(self._convert(image)):
                    return
            self._put(None)
        except BaseException as exc:
            self._put(exc)
        finally:
            self._frames.close()

    def _convert(self, image: Image.Image) -> av.VideoFrame:
        return self._reformatter.reformat(
            av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24"),
            format="yuv420p",
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
            interpolation=EXACT_SCALING,
        )

    def _put(self, item: av.VideoFrame | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def next(self) -> av.VideoFrame | None:
        """The next frame, or None once the source is exhausted."""
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the worker and wait for it to release the frame source."""
        self._stop.set()
        self._thread.join()


def _encode(
    frames: _Prefetcher,
    path: Path,
    spec: RenderSpec,
    on_progress: ProgressCallback | None,
    should_stop: StopCheck | None,
) -> None:
    total = spec.duration * spec.fps
    reported = -1
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=spec.fps)
        stream.width = spec.width
        stream.height = spec.height
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1
        stream.gop_size = spec.fps * 2
        stream.options = dict(ENCODER_OPTIONS)
        context = stream.codec_context
        context.colorspace = _BT709
        context.color_primaries = _BT709
        context.color_trc = _BT709
        context.color_range = _LIMITED_RANGE
        for index in range(total):
            if should_stop is not None and should_stop():
                raise RenderCancelled(f"render stopped after {index} of {total} frames")
            frame = frames.next()
            if frame is None:
                raise RuntimeError(f"frame source ended after {index} of {total} frames")
            frame.pts = index
            out.mux(stream.encode(frame))
            percent = min(99, (index + 1) * 100 // total)
            if on_progress is not None and percent > reported:
                reported = percent
                on_progress(percent)
        out.mux(stream.encode(None))


def _measure(path: Path, input_video_duration: float) -> RenderInfo:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        rate = stream.average_rate or stream.base_rate
        fps = round(float(rate)) if rate else 0
        return RenderInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            duration=frames / fps if fps else 0.0,
            frames=frames,
            input_video_duration=round(input_video_duration, 3),
        )


def render_video(
    spec: RenderSpec,
    out_path: Path,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> RenderInfo:
    """Render ``spec`` to an H.264 MP4 at ``out_path`` and describe the result.

    The same spec always yields the same bytes. ``on_progress`` receives increasing
    percentages ending with 100; when ``should_stop`` returns True the partial output is
    removed and RenderCancelled is raised. Missing or unreadable inputs raise ValueError
    before anything is written.
    """
    _check(spec)
    out_path = Path(out_path)
    plan = plan_frames(spec)
    partial = out_path.with_name(f".{out_path.name}.partial")
    frames = _Prefetcher(plan.frames)
    try:
        _encode(frames, partial, spec, on_progress, should_stop)
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        frames.close()
    info = _measure(out_path, plan.input_video_duration)
    if on_progress is not None:
        on_progress(100)
    return info
