"""The local renderer writes real, deterministic H.264 MP4 files for every mode."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from vidgate.providers.local.captions import ellipsize, title_overlay, wrap_text
from vidgate.providers.local.media_io import VideoReader
from vidgate.providers.local.render import render_video
from vidgate.providers.local.spec import RenderCancelled, RenderInfo, RenderSpec
from vidgate.providers.local.vace import outpaint_geometry, outpaint_scales

WIDTH, HEIGHT, FPS, DURATION = 160, 96, 8, 1
FRAMES = FPS * DURATION
CLIP_FPS, CLIP_FRAMES, CLIP_SIZE = 12, 18, (120, 90)
CLIP_SECONDS = CLIP_FRAMES / CLIP_FPS
BACKGROUND = (200, 120, 40)
FLAT = (40, 150, 210)
OTHER = (20, 170, 70)
CAPTION_FREE_ROWS = int(HEIGHT * 0.7)

Pixels = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Inputs:
    image: Path
    other_image: Path
    mask: Path
    clip: Path
    flat_clip: Path
    mask_clip: Path
    junk: Path


@dataclass(frozen=True)
class Decoded:
    codec: str
    width: int
    height: int
    fps: float
    duration: float
    frames: list[Pixels]


def _write_clip(path: Path, draw: Callable[[int], Pixels]) -> Path:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height = CLIP_SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(CLIP_FRAMES):
            frame = av.VideoFrame.from_ndarray(draw(index), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _moving_bar(index: int) -> Pixels:
    pixels = np.zeros((CLIP_SIZE[1], CLIP_SIZE[0], 3), dtype=np.uint8)
    pixels[...] = (20, 20, 60)
    left = index * 5 % (CLIP_SIZE[0] - 10)
    pixels[:, left : left + 10] = (250, 250, 250)
    return pixels


def _flat(index: int) -> Pixels:
    return np.full((CLIP_SIZE[1], CLIP_SIZE[0], 3), FLAT, dtype=np.uint8)


def _half_mask(index: int) -> Pixels:
    pixels = np.zeros((CLIP_SIZE[1], CLIP_SIZE[0], 3), dtype=np.uint8)
    pixels[:, : CLIP_SIZE[0] // 2] = 255
    return pixels


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    folder = tmp_path_factory.mktemp("inputs")
    picture = Image.new("RGB", (240, 180), BACKGROUND)
    ImageDraw.Draw(picture).rectangle((100, 70, 130, 100), fill=(30, 60, 200))
    picture.save(folder / "picture.png")
    other = Image.new("RGB", (90, 160), OTHER)
    ImageDraw.Draw(other).ellipse((35, 70, 55, 90), fill=(240, 240, 240))
    other.save(folder / "other.jpg")
    mask = Image.new("L", CLIP_SIZE, 0)
    ImageDraw.Draw(mask).rectangle((0, 0, CLIP_SIZE[0] // 2 - 1, CLIP_SIZE[1]), fill=255)
    mask.save(folder / "mask.png")
    junk = folder / "junk.bin"
    junk.write_bytes(b"not a picture, not a video" * 40)
    return Inputs(
        image=folder / "picture.png",
        other_image=folder / "other.jpg",
        mask=folder / "mask.png",
        clip=_write_clip(folder / "clip.mp4", _moving_bar),
        flat_clip=_write_clip(folder / "flat.mp4", _flat),
        mask_clip=_write_clip(folder / "mask.mp4", _half_mask),
        junk=junk,
    )


def _spec(**overrides: Any) -> RenderSpec:
    fields: dict[str, Any] = {
        "mode": "t2v",
        "prompt": "a paper boat drifting across a quiet pond at sunset",
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "duration": DURATION,
        "seed": 3,
        "model": "test-model",
    }
    fields.update(overrides)
    return RenderSpec(**fields)


def _decode(path: Path) -> Decoded:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None and stream.time_base is not None
        duration = float(stream.duration * stream.time_base)
        frames = [
            np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            for frame in container.decode(stream)
        ]
        return Decoded(
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(stream.average_rate or 0),
            duration=duration,
            frames=frames,
        )


def _mean(pixels: Pixels) -> npt.NDArray[np.float64]:
    return np.asarray(pixels.reshape(-1, 3).mean(axis=0), dtype=np.float64)


CASES: dict[str, Callable[[Inputs], dict[str, Any]]] = {
    "t2v": lambda i: {"mode": "t2v"},
    "i2v": lambda i: {"mode": "i2v", "image": i.image},
    "kf2v": lambda i: {"mode": "kf2v", "first_frame": i.image, "last_frame": i.other_image},
    "kf2v-to-scene": lambda i: {"mode": "kf2v", "first_frame": i.image},
    "r2v": lambda i: {
        "mode": "r2v",
        "reference_images": (i.image, i.other_image),
        "reference_videos": (i.clip,),
    },
    "vace-image_reference": lambda i: {
        "mode": "vace",
        "function": "image_reference",
        "reference_images": (i.image, i.other_image),
    },
    "vace-video_repainting": lambda i: {
        "mode": "vace",
        "function": "video_repainting",
        "video": i.clip,
        "params": {"strength": 0.7},
    },
    "vace-video_edit": lambda i: {
        "mode": "vace",
        "function": "video_edit",
        "video": i.clip,
        "mask_image": i.mask,
    },
    "vace-video_edit-mask_video": lambda i: {
        "mode": "vace",
        "function": "video_edit",
        "video": i.clip,
        "mask_video": i.mask_clip,
    },
    "vace-video_extension": lambda i: {
        "mode": "vace",
        "function": "video_extension",
        "video": i.clip,
    },
    "vace-video_outpainting": lambda i: {
        "mode": "vace",
        "function": "video_outpainting",
        "video": i.clip,
        "params": {"left_scale": 1.5, "top_scale": 1.2},
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_mode_writes_a_playable_h264_mp4(case: str, inputs: Inputs, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    info = render_video(_spec(**CASES[case](inputs)), out)

    decoded = _decode(out)
    assert decoded.codec == "h264"
    assert (decoded.width, decoded.height) == (WIDTH, HEIGHT)
    assert decoded.fps == FPS
    assert decoded.duration == pytest.approx(DURATION)
    assert len(decoded.frames) == FRAMES
    assert info.width == WIDTH and info.height == HEIGHT
    assert info.fps == FPS and info.frames == FRAMES
    assert info.duration == pytest.approx(DURATION)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.mp4"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("t2v", 0.0),
        ("i2v", 0.0),
        ("r2v", CLIP_SECONDS),
        ("vace-video_repainting", CLIP_SECONDS),
        ("vace-video_edit", CLIP_SECONDS),
        ("vace-video_edit-mask_video", 2 * CLIP_SECONDS),
        ("vace-video_extension", CLIP_SECONDS),
    ],
)
def test_input_video_duration_counts_the_videos_read(
    case: str, expected: float, inputs: Inputs, tmp_path: Path
) -> None:
    info = render_video(_spec(**CASES[case](inputs)), tmp_path / "out.mp4")
    assert info.input_video_duration == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("case", ["t2v", "r2v", "vace-video_repainting"])
def test_the_same_spec_gives_identical_bytes(case: str, inputs: Inputs, tmp_path: Path) -> None:
    spec = _spec(**CASES[case](inputs))
    first, second = tmp_path / "first.mp4", tmp_path / "second.mp4"
    render_video(spec, first)
    render_video(spec, second)
    assert first.read_bytes() == second.read_bytes()


def test_concurrent_renders_match_serial_ones(inputs: Inputs, tmp_path: Path) -> None:
    specs = [_spec(**CASES[case](inputs)) for case in ("t2v", "r2v", "vace-video_edit")]
    serial = []
    for index, spec in enumerate(specs):
        render_video(spec, tmp_path / f"serial{index}.mp4")
        serial.append((tmp_path / f"serial{index}.mp4").read_bytes())
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = [tmp_path / f"parallel{index}.mp4" for index in range(len(specs))]
        list(pool.map(render_video, specs, paths))
    assert [path.read_bytes() for path in paths] == serial


def test_a_different_seed_gives_a_different_video(tmp_path: Path) -> None:
    render_video(_spec(seed=1), tmp_path / "one.mp4")
    render_video(_spec(seed=2), tmp_path / "two.mp4")
    assert (tmp_path / "one.mp4").read_bytes() != (tmp_path / "two.mp4").read_bytes()


def test_a_different_prompt_gives_a_different_video(tmp_path: Path) -> None:
    render_video(_spec(prompt="a red kite"), tmp_path / "one.mp4")
    render_video(_spec(prompt="a blue kite"), tmp_path / "two.mp4")
    assert (tmp_path / "one.mp4").read_bytes() != (tmp_path / "two.mp4").read_bytes()


def test_progress_rises_steadily_to_100(tmp_path: Path) -> None:
    seen: list[int] = []
    render_video(_spec(fps=16, duration=2), tmp_path / "out.mp4", on_progress=seen.append)
    assert seen[-1] == 100
    assert all(earlier < later for earlier, later in pairwise(seen))
    assert all(0 <= percent <= 100 for percent in seen)
    assert len(seen) >= 10


def test_progress_is_reported_at_most_once_per_percent(tmp_path: Path) -> None:
    seen: list[int] = []
    render_video(_spec(fps=24, duration=5, width=64, height=36), tmp_path / "o.mp4", seen.append)
    assert len(seen) == len(set(seen)) <= 101
    assert seen[-1] == 100


def test_stopping_cancels_and_leaves_no_file(tmp_path: Path) -> None:
    checks = 0

    def should_stop() -> bool:
        nonlocal checks
        checks += 1
        return checks > 3

    seen: list[int] = []
    out = tmp_path / "out.mp4"
    with pytest.raises(RenderCancelled):
        render_video(_spec(), out, on_progress=seen.append, should_stop=should_stop)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    assert 100 not in seen
    assert checks == 4


def test_stopping_before_the_first_frame_cancels(inputs: Inputs, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    spec = _spec(**CASES["vace-video_repainting"](inputs))
    with pytest.raises(RenderCancelled):
        render_video(spec, out, should_stop=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_a_stop_check_that_never_fires_is_harmless(tmp_path: Path) -> None:
    info = render_video(_spec(), tmp_path / "out.mp4", should_stop=lambda: False)
    assert info == RenderInfo(width=WIDTH, height=HEIGHT, fps=FPS, duration=1.0, frames=FRAMES)


MISSING: dict[str, Callable[[Inputs], dict[str, Any]]] = {
    "unknown mode": lambda i: {"mode": "x2v"},
    "i2v without image": lambda i: {"mode": "i2v"},
    "kf2v without first frame": lambda i: {"mode": "kf2v", "last_frame": i.image},
    "r2v without references": lambda i: {"mode": "r2v"},
    "vace without function": lambda i: {"mode": "vace", "video": i.clip},
    "vace with unknown function": lambda i: {"mode": "vace", "function": "dance", "video": i.clip},
    "image_reference without images": lambda i: {
        "mode": "vace",
        "function": "image_reference",
        "video": i.clip,
    },
    "repainting without video": lambda i: {"mode": "vace", "function": "video_repainting"},
    "repainting with strength above 1": lambda i: {
        "mode": "vace",
        "function": "video_repainting",
        "video": i.clip,
        "params": {"strength": 1.5},
    },
    "edit without mask": lambda i: {"mode": "vace", "function": "video_edit", "video": i.clip},
    "edit without video": lambda i: {
        "mode": "vace",
        "function": "video_edit",
        "mask_image": i.mask,
    },
    "extension without video": lambda i: {"mode": "vace", "function": "video_extension"},
    "outpainting without video": lambda i: {"mode": "vace", "function": "video_outpainting"},
    "outpainting with a scale below 1": lambda i: {
        "mode": "vace",
        "function": "video_outpainting",
        "video": i.clip,
        "params": {"left_scale": 0.5},
    },
    "image that is not an image": lambda i: {"mode": "i2v", "image": i.junk},
    "video that is not a video": lambda i: {
        "mode": "vace",
        "function": "video_extension",
        "video": i.junk,
    },
    "reference video that is not a video": lambda i: {
        "mode": "r2v",
        "reference_videos": (i.junk,),
    },
    "mask that is not an image": lambda i: {
        "mode": "vace",
        "function": "video_edit",
        "video": i.clip,
        "mask_image": i.junk,
    },
    "odd width": lambda i: {"width": 161},
    "zero duration": lambda i: {"duration": 0},
}


@pytest.mark.parametrize("case", sorted(MISSING))
def test_missing_or_bad_inputs_raise_value_error(case: str, inputs: Inputs, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_video(_spec(**MISSING[case](inputs)), tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_t2v_frames_are_animated(tmp_path: Path) -> None:
    render_video(_spec(), tmp_path / "out.mp4")
    frames = _decode(tmp_path / "out.mp4").frames
    first, last = (frame[:CAPTION_FREE_ROWS].astype(np.int16) for frame in (frames[0], frames[-1]))
    assert np.abs(first - last).mean() > 3
    consecutive = [
        np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() for a, b in pairwise(frames)
    ]
    assert min(consecutive) > 0


def test_t2v_shows_the_prompt_as_bright_text(tmp_path: Path) -> None:
    size = {"width": 2 * WIDTH, "height": 2 * HEIGHT}
    render_video(_spec(prompt="HELLO", **size), tmp_path / "with.mp4")
    render_video(_spec(prompt="", **size), tmp_path / "without.mp4")
    with_text = _decode(tmp_path / "with.mp4").frames[0][: 2 * CAPTION_FREE_ROWS]
    without = _decode(tmp_path / "without.mp4").frames[0][: 2 * CAPTION_FREE_ROWS]
    assert (with_text.min(axis=2) > 230).sum() > (without.min(axis=2) > 230).sum() + 100


def test_i2v_frames_resemble_the_image(inputs: Inputs, tmp_path: Path) -> None:
    render_video(_spec(mode="i2v", image=inputs.image), tmp_path / "out.mp4")
    frames = _decode(tmp_path / "out.mp4").frames
    for frame in (frames[0], frames[-1]):
        colour = _mean(frame[:CAPTION_FREE_ROWS])
        assert np.abs(colour - np.array(BACKGROUND)).max() < 25


def test_kf2v_runs_from_the_first_frame_to_the_last(inputs: Inputs, tmp_path: Path) -> None:
    spec = _spec(mode="kf2v", first_frame=inputs.image, last_frame=inputs.other_image)
    render_video(spec, tmp_path / "out.mp4")
    frames = _decode(tmp_path / "out.mp4").frames
    start, end = _mean(frames[0][:CAPTION_FREE_ROWS]), _mean(frames[-1][:CAPTION_FREE_ROWS])
    assert np.abs(start - np.array(BACKGROUND)).max() < 25
    assert np.abs(end - np.array(OTHER)).max() < 25


def test_repainting_strength_zero_keeps_the_video(inputs: Inputs, tmp_path: Path) -> None:
    for strength in (0.0, 1.0):
        spec = _spec(
            mode="vace",
            function="video_repainting",
            video=inputs.flat_clip,
            params={"strength": strength},
        )
        render_video(spec, tmp_path / f"{strength}.mp4")
    kept = _mean(_decode(tmp_path / "0.0.mp4").frames[4][:CAPTION_FREE_ROWS])
    restyled = _mean(_decode(tmp_path / "1.0.mp4").frames[4][:CAPTION_FREE_ROWS])
    assert np.abs(kept - np.array(FLAT)).max() < 8
    assert np.abs(restyled - np.array(FLAT)).max() > 20


@pytest.mark.parametrize("mask", ["mask_image", "mask_video"])
def test_video_edit_changes_only_the_masked_region(
    mask: str, inputs: Inputs, tmp_path: Path
) -> None:
    mask_path = inputs.mask if mask == "mask_image" else inputs.mask_clip
    spec = _spec(mode="vace", function="video_edit", video=inputs.flat_clip, **{mask: mask_path})
    render_video(spec, tmp_path / "out.mp4")
    frame = _decode(tmp_path / "out.mp4").frames[3][:CAPTION_FREE_ROWS]
    edited = _mean(frame[:, : WIDTH // 2 - 8])
    untouched = _mean(frame[:, WIDTH // 2 + 8 :])
    assert np.abs(untouched - np.array(FLAT)).max() < 8
    assert np.abs(edited - np.array(FLAT)).max() > 20


def test_video_extension_starts_with_the_clip(inputs: Inputs, tmp_path: Path) -> None:
    spec = _spec(mode="vace", function="video_extension", video=inputs.flat_clip, duration=2)
    info = render_video(spec, tmp_path / "out.mp4")
    frames = _decode(tmp_path / "out.mp4").frames
    assert info.frames == len(frames) == 2 * FPS
    assert np.abs(_mean(frames[0][:CAPTION_FREE_ROWS]) - np.array(FLAT)).max() < 8
    assert np.abs(_mean(frames[-1][:CAPTION_FREE_ROWS]) - np.array(FLAT)).max() > 15


def test_video_outpainting_keeps_the_clip_inside_its_box(inputs: Inputs, tmp_path: Path) -> None:
    params = {"left_scale": 1.5, "right_scale": 1.5, "top_scale": 1.5, "bottom_scale": 1.5}
    spec = _spec(mode="vace", function="video_outpainting", video=inputs.clip, params=params)
    render_video(spec, tmp_path / "out.mp4")
    left, top, inner_w, inner_h = outpaint_geometry(WIDTH, HEIGHT, outpaint_scales(params))
    assert (left, top, inner_w, inner_h) == (40, 24, 80, 48)
    frames = _decode(tmp_path / "out.mp4").frames
    inner = frames[2][top + 2 : top + inner_h - 2, left + 2 : left + inner_w - 2]
    assert inner.max() > 200
    assert frames[2][:4, :4].max() < inner.max()


def test_outpaint_scales_read_sides_and_expand_ratio() -> None:
    assert outpaint_scales({}) == (1.0, 1.0, 1.0, 1.0)
    assert outpaint_scales({"expand_ratio": 0.5}) == (1.5, 1.5, 1.5, 1.5)
    assert outpaint_scales({"expand_ratio": 0.5, "top_scale": 2}) == (1.5, 1.5, 2.0, 1.5)
    assert outpaint_scales({"left_scale": "1.25"}) == (1.25, 1.0, 1.0, 1.0)
    for bad in ({"left_scale": 0.9}, {"expand_ratio": -1}, {"top_scale": "wide"}):
        with pytest.raises(ValueError):
            outpaint_scales(bad)


def test_outpaint_geometry_keeps_the_aspect_ratio() -> None:
    assert outpaint_geometry(160, 96, (1.0, 1.0, 1.0, 1.0)) == (0, 0, 160, 96)
    assert outpaint_geometry(160, 96, (2.0, 1.0, 1.0, 1.0)) == (80, 24, 80, 48)
    assert outpaint_geometry(160, 96, (1.0, 1.0, 1.0, 2.0)) == (40, 0, 80, 48)


def test_video_reader_resamples_and_loops(inputs: Inputs) -> None:
    reader = VideoReader(inputs.clip, 64, 36, 8)
    assert reader.duration == pytest.approx(CLIP_SECONDS)
    once = list(reader.frames(loop=False))
    assert len(once) == round(CLIP_SECONDS * 8)
    assert all(frame.size == (64, 36) and frame.mode == "RGB" for frame in once)
    looped = reader.frames(loop=True)
    frames = [next(looped) for _ in range(3 * len(once))]
    looped.close()
    again = np.asarray(frames[len(once)])
    assert np.array_equal(again, np.asarray(once[0]))


def test_wrap_text_fits_the_width_and_ellipsize_shortens() -> None:
    overlay = title_overlay("word " * 200, WIDTH, HEIGHT)
    assert overlay is not None
    assert overlay.patch.width <= WIDTH and overlay.patch.height <= HEIGHT
    assert title_overlay("   ", WIDTH, HEIGHT) is None
    font = ImageFont.load_default(size=12)
    lines = wrap_text("a supercalifragilisticexpialidocious fox jumps", font, 60)
    assert all(font.getlength(line) <= 60 for line in lines)
    assert "".join(lines).replace(" ", "") == "asupercalifragilisticexpialidociousfoxjumps"
    short = ellipsize("a long caption that will not fit", font, 50)
    assert short.endswith("\u2026") and font.getlength(short) <= 50
