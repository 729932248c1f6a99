"""Frame streams for each generation mode, with the prompt and provenance captions applied."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PIL import Image

from vidgate.providers.local.captions import Overlay, caption_overlay, title_overlay
from vidgate.providers.local.media_io import load_image
from vidgate.providers.local.motion import KenBurns, smoothstep
from vidgate.providers.local.plan import FramePlan, FrameStream
from vidgate.providers.local.procedural import PromptScene, seeded_rng
from vidgate.providers.local.spec import RenderSpec
from vidgate.providers.local.tiles import TileBoard
from vidgate.providers.local.vace import plan_vace

__all__ = ["MODES", "Planner", "plan_frames", "provenance_tag"]

Planner = Callable[[RenderSpec, int, int], FramePlan]
"""Builds a mode's frames from a spec, a frame count and the height kept clear for captions."""


def provenance_tag(spec: RenderSpec) -> str:
    """The caption that marks frames as coming from the local renderer."""
    label = f"vace · {spec.function}" if spec.mode == "vace" else spec.mode
    return " · ".join(part for part in ("vidgate local", spec.model, label) if part)


def _progress(index: int, count: int) -> float:
    return index / max(1, count - 1)


def _text_to_video(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    scene = PromptScene(spec.prompt, spec.seed, spec.width, spec.height, spec.fps)

    def frames() -> FrameStream:
        for index in range(count):
            yield scene.frame(index)

    return FramePlan(frames())


def _image_to_video(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    if spec.image is None:
        raise ValueError("mode 'i2v' requires an image")
    image = load_image(spec.image)
    rng = seeded_rng("i2v", spec.prompt, spec.seed)
    depth = rng.uniform(1.1, 1.2)
    burns = KenBurns(
        image,
        spec.width,
        spec.height,
        zoom=(1.0, depth) if rng.random() < 0.5 else (depth, 1.0),
        pan_start=(rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75)),
        pan_end=(rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75)),
    )

    def frames() -> FrameStream:
        for index in range(count):
            yield burns.frame(_progress(index, count))

    return FramePlan(frames())


def _keyframes_to_video(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    if spec.first_frame is None:
        raise ValueError("mode 'kf2v' requires a first_frame")
    size = (spec.width, spec.height)
    burns = KenBurns(load_image(spec.first_frame), *size, zoom=(1.0, 1.0), swell=0.08)
    last = burns.prepare(load_image(spec.last_frame)) if spec.last_frame is not None else None
    scene = PromptScene(spec.prompt, spec.seed, *size, spec.fps) if last is None else None

    def frames() -> FrameStream:
        for index in range(count):
            progress = _progress(index, count)
            weight = smoothstep((progress - 0.1) / 0.8)
            if last is not None:
                yield burns.frame(progress, Image.blend(burns.source, last, weight))
            elif scene is not None:
                yield Image.blend(burns.frame(progress), scene.frame(index), weight)

    return FramePlan(frames())


def _references_to_video(spec: RenderSpec, count: int, reserve_bottom: int) -> FramePlan:
    if not spec.reference_images and not spec.reference_videos:
        raise ValueError("mode 'r2v' requires reference_images or reference_videos")
    images = [load_image(path) for path in spec.reference_images]
    backdrop = PromptScene(
        spec.prompt, spec.seed, spec.width, spec.height, spec.fps, shapes=False, brightness=0.55
    )
    board = TileBoard(
        spec.width,
        spec.height,
        spec.fps,
        images,
        spec.reference_videos,
        backdrop,
        seeded_rng("r2v", spec.prompt, spec.seed),
        fill=0.9,
        reserve_bottom=reserve_bottom,
    )
    return FramePlan(board.frames(count), board.input_video_duration)


_PLANNERS: dict[str, Planner] = {
    "t2v": _text_to_video,
    "i2v": _image_to_video,
    "kf2v": _keyframes_to_video,
    "r2v": _references_to_video,
    "vace": plan_vace,
}

MODES: tuple[str, ...] = tuple(_PLANNERS)
"""The generation modes the local renderer understands."""


def _decorated(frames: FrameStream, overlays: Iterable[Overlay]) -> FrameStream:
    layers = list(overlays)
    try:
        for frame in frames:
            for layer in layers:
                layer.apply(frame)
            yield frame
    finally:
        frames.close()


def plan_frames(spec: RenderSpec) -> FramePlan:
    """Check ``spec``'s inputs for its mode and return its captioned frame stream.

    Raises ValueError when the mode is unknown or a required input is missing or unreadable.
    """
    planner = _PLANNERS.get(spec.mode)
    if planner is None:
        raise ValueError(f"unknown mode {spec.mode!r}; expected one of {', '.join(MODES)}")
    tag = provenance_tag(spec)
    overlays: list[Overlay] = []
    if spec.mode == "t2v":
        title = title_overlay(spec.prompt, spec.width, spec.height)
        if title is not None:
            overlays.append(title)
        overlays.append(caption_overlay(tag, None, spec.width, spec.height))
    else:
        overlays.append(caption_overlay(tag, spec.prompt, spec.width, spec.height))
    caption_height = overlays[-1].patch.height
    plan = planner(spec, spec.duration * spec.fps, caption_height)
    return FramePlan(_decorated(plan.frames, overlays), plan.input_video_duration)
