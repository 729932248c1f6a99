"""Frame streams for the VACE functions: reference, repaint, edit, extend and outpaint."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vidgate.providers.local.media_io import VideoReader, load_image, load_mask
from vidgate.providers.local.motion import KenBurns, smoothstep
from vidgate.providers.local.plan import FramePlan, FrameStream
from vidgate.providers.local.procedural import PromptScene, prompt_palette, seeded_rng, tone_lut
from vidgate.providers.local.spec import RenderSpec
from vidgate.providers.local.tiles import TileBoard

__all__ = ["VACE_FUNCTIONS", "outpaint_geometry", "outpaint_scales", "plan_vace"]

_SIDES = ("left", "right", "top", "bottom")


def _number(params: Mapping[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValueError(f"params.{key} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"params.{key} must be a number, not {value!r}") from exc
    if not math.isfinite(number):
        raise ValueError(f"params.{key} must be finite")
    return number


def _require_video(spec: RenderSpec) -> Path:
    if spec.video is None:
        raise ValueError(f"vace function {spec.function!r} requires a video")
    return spec.video


def _tone(image: Image.Image, lut: list[int]) -> Image.Image:
    grey = image.convert("L")
    bands = tuple(grey.point(lut[band * 256 : (band + 1) * 256]) for band in range(3))
    return Image.merge("RGB", bands)


def _style_lut(spec: RenderSpec, levels: int) -> list[int]:
    dark, mid, bright, accent = prompt_palette(spec.prompt, spec.seed)
    highlight = ((bright[0] + 255) // 2, (bright[1] + 255) // 2, (bright[2] + 255) // 2)
    return tone_lut((dark, mid, accent, highlight), levels)


def _image_reference(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    if not spec.reference_images:
        raise ValueError("vace function 'image_reference' requires reference_images")
    images = [load_image(path) for path in spec.reference_images]
    backdrop = PromptScene(spec.prompt, spec.seed, spec.width, spec.height, spec.fps)
    board = TileBoard(
        spec.width,
        spec.height,
        spec.fps,
        images,
        (),
        backdrop,
        seeded_rng("image_reference", spec.prompt, spec.seed),
        fill=0.62,
        reserve_bottom=reserve_bottom,
    )
    return FramePlan(board.frames(count))


def _video_repainting(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    strength = _number(spec.params, "strength", 1.0)
    if not 0.0 <= strength <= 1.0:
        raise ValueError("params.strength must be between 0 and 1")
    reader = VideoReader(_require_video(spec), spec.width, spec.height, spec.fps)
    lut = _style_lut(spec, levels=8)

    def frames() -> FrameStream:
        source = reader.frames(loop=True)
        try:
            for frame in islice(source, count):
                yield Image.blend(frame, _tone(frame, lut), strength)
        finally:
            source.close()

    return FramePlan(frames(), reader.duration)


def _mask_source(spec: RenderSpec) -> tuple[Callable[[], FrameStream], float]:
    size = (spec.width, spec.height)
    if spec.mask_video is not None:
        reader = VideoReader(spec.mask_video, *size, spec.fps)
        return partial(reader.frames, loop=True), reader.duration
    if spec.mask_image is None:
        raise ValueError("vace function 'video_edit' requires a mask_image or mask_video")
    still = load_mask(spec.mask_image, *size)

    def repeated() -> FrameStream:
        while True:
            yield still

    return repeated, 0.0


def _video_edit(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    size = (spec.width, spec.height)
    reader = VideoReader(_require_video(spec), *size, spec.fps)
    open_masks, mask_duration = _mask_source(spec)
    lut = _style_lut(spec, levels=0)
    block = max(4, min(size) // 20)
    coarse = (max(1, round(size[0] / block)), max(1, round(size[1] / block)))

    def frames() -> FrameStream:
        source = reader.frames(loop=True)
        masks = open_masks()
        try:
            for frame in islice(source, count):
                mask = next(masks).convert("L")
                pixelated = _tone(frame.resize(coarse, Image.Resampling.BOX), lut)
                edited = pixelated.resize(size, Image.Resampling.NEAREST)
                yield Image.composite(edited, frame, mask)
        finally:
            source.close()
            masks.close()

    return FramePlan(frames(), reader.duration + mask_duration)


def _video_extension(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    size = (spec.width, spec.height)
    reader = VideoReader(_require_video(spec), *size, spec.fps)
    scene = PromptScene(spec.prompt, spec.seed, *size, spec.fps)

    def frames() -> FrameStream:
        produced = 0
        last: Image.Image | None = None
        source = reader.frames(loop=False)
        try:
            for frame in islice(source, count):
                last = frame.copy()
                produced += 1
                yield frame
        finally:
            source.close()
        if last is None:
            return
        remaining = count - produced
        burns = KenBurns(last, *size, zoom=(1.0, 1.25))
        for step in range(remaining):
            progress = (step + 1) / remaining
            continued = burns.frame(progress)
            yield Image.blend(continued, scene.frame(produced + step), smoothstep(progress))

    return FramePlan(frames(), reader.duration)


def outpaint_scales(params: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """Left, right, top and bottom scales (each >= 1) from ``params``.

    ``expand_ratio`` (>= 0) sets every side to ``1 + expand_ratio``; an explicit
    ``<side>_scale`` overrides it for that side.
    """
    ratio = _number(params, "expand_ratio", 0.0)
    if ratio < 0:
        raise ValueError("params.expand_ratio must not be negative")
    scales = tuple(_number(params, f"{side}_scale", 1.0 + ratio) for side in _SIDES)
    for side, scale in zip(_SIDES, scales, strict=True):
        if scale < 1.0:
            raise ValueError(f"params.{side}_scale must be at least 1")
    return scales[0], scales[1], scales[2], scales[3]


def outpaint_geometry(
    width: int, height: int, scales: tuple[float, float, float, float]
) -> tuple[int, int, int, int]:
    """Position and size (left, top, width, height) of the original frame on the canvas.

    The original keeps its aspect ratio; the canvas spans ``left + right - 1`` original widths
    and ``top + bottom - 1`` original heights, and the tighter axis decides the shrink.
    """
    left_s, right_s, top_s, bottom_s = scales
    shrink = 1.0 / max(left_s + right_s - 1.0, top_s + bottom_s - 1.0)
    inner_w = min(width, max(2, round(width * shrink)))
    inner_h = min(height, max(2, round(height * shrink)))

    def offset(free: int, before: float, after: float) -> int:
        extra = (before - 1.0) + (after - 1.0)
        share = 0.5 if extra <= 0 else (before - 1.0) / extra
        return round(free * share)

    return (
        offset(width - inner_w, left_s, right_s),
        offset(height - inner_h, top_s, bottom_s),
        inner_w,
        inner_h,
    )


def _outpaint_weights(width: int, height: int, geometry: tuple[int, int, int, int]) -> Image.Image:
    left, top, inner_w, inner_h = geometry
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)
    dx = np.maximum(np.maximum(left - xs, xs - (left + inner_w - 1)), 0.0)[None, :]
    dy = np.maximum(np.maximum(top - ys, ys - (top + inner_h - 1)), 0.0)[:, None]
    feather = max(4.0, 0.15 * min(width, height))
    weights = np.clip(np.sqrt(dx * dx + dy * dy) / feather, 0.0, 1.0)
    return Image.fromarray((weights * 255.0 + 0.5).astype(np.uint8), "L")


def _padding(
    width: int, height: int, geometry: tuple[int, int, int, int], scale: float = 1.0
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    left, top, inner_w, inner_h = (round(value * scale) for value in geometry)
    canvas_w, canvas_h = round(width * scale), round(height * scale)
    return (
        (top, max(0, canvas_h - inner_h - top)),
        (left, max(0, canvas_w - inner_w - left)),
        (0, 0),
    )


def _video_outpainting(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    size = (spec.width, spec.height)
    geometry = outpaint_geometry(*size, outpaint_scales(spec.params))
    inner_w, inner_h = geometry[2:]
    reader = VideoReader(_require_video(spec), inner_w, inner_h, spec.fps)
    weights = _outpaint_weights(*size, geometry)
    shrink = 1 / 16
    padding = _padding(*size, geometry)
    coarse_padding = _padding(*size, geometry, shrink)
    coarse_inner = (
        max(1, round(inner_w * shrink)),
        max(1, round(inner_h * shrink)),
    )
    dim = [round(value * 0.8) for value in range(256)] * 3

    def frames() -> FrameStream:
        source = reader.frames(loop=True)
        try:
            for frame in islice(source, count):
                mirrored = Image.fromarray(np.pad(np.asarray(frame), padding, mode="symmetric"))
                coarse = np.asarray(frame.resize(coarse_inner, Image.Resampling.BOX))
                blurred = Image.fromarray(np.pad(coarse, coarse_padding, mode="symmetric"))
                backdrop = blurred.point(dim).resize(size, Image.Resampling.BILINEAR)
                yield Image.composite(backdrop, mirrored, weights)
        finally:
            source.close()

    return FramePlan(frames(), reader.duration)


_FUNCTIONS: dict[str, Callable[[RenderSpec, int, int], FramePlan]] = {
    "image_reference": _image_reference,
    "video_repainting": _video_repainting,
    "video_edit": _video_edit,
    "video_extension": _video_extension,
    "video_outpainting": _video_outpainting,
}

VACE_FUNCTIONS: tuple[str, ...] = tuple(_FUNCTIONS)
"""The VACE functions the local renderer understands."""


def plan_vace(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    """Frames for ``spec.function`` applied to the spec's inputs."""
    planner = _FUNCTIONS.get(spec.function or "")
    if planner is None:
        raise ValueError(
            f"mode 'vace' requires a function, one of {', '.join(VACE_FUNCTIONS)}; "
            f"got {spec.function!r}"
        )
    return planner(spec, count, reserve_bottom)
