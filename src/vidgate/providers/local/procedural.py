"""Abstract animated scenes whose colours, shapes and motion derive from a prompt and seed."""

from __future__ import annotations

import colorsys
import hashlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["Colour", "PromptScene", "prompt_palette", "seeded_rng", "tone_lut"]

Colour = tuple[int, int, int]

_BACKGROUND_DOWNSCALE = 8
_HARMONIES = (
    (0.0, 0.06, 0.5, 0.56),
    (0.0, 0.33, 0.66, 0.12),
    (0.0, 0.04, 0.1, 0.55),
    (0.0, 0.45, 0.55, 0.9),
)


def seeded_rng(*parts: object) -> np.random.Generator:
    """A random generator seeded from a stable hash of ``parts``."""
    text = "\x1f".join(str(part) for part in parts)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def _hsv(hue: float, saturation: float, value: float) -> Colour:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (round(red * 255), round(green * 255), round(blue * 255))


def prompt_palette(prompt: str, seed: int) -> tuple[Colour, Colour, Colour, Colour]:
    """Four related colours for a prompt: dark, mid, bright and accent."""
    rng = seeded_rng("palette", prompt, seed)
    base = float(rng.random())
    offsets = _HARMONIES[int(rng.integers(len(_HARMONIES)))]
    return (
        _hsv(base + offsets[0], rng.uniform(0.55, 0.85), rng.uniform(0.18, 0.3)),
        _hsv(base + offsets[1], rng.uniform(0.5, 0.8), rng.uniform(0.5, 0.66)),
        _hsv(base + offsets[2], rng.uniform(0.35, 0.65), rng.uniform(0.82, 0.95)),
        _hsv(base + offsets[3], rng.uniform(0.65, 0.9), rng.uniform(0.9, 1.0)),
    )


def tone_lut(palette: tuple[Colour, ...], levels: int = 0) -> list[int]:
    """A 768-entry ``Image.point`` table mapping grey levels through ``palette`` (dark to light).

    Apply it to a greyscale image converted to RGB. ``levels`` > 1 posterises the ramp.
    """
    stops = np.asarray(palette, dtype=np.float64)
    grey = np.arange(256, dtype=np.float64) / 255.0
    if levels > 1:
        grey = np.round(grey * (levels - 1)) / (levels - 1)
    positions = np.linspace(0.0, 1.0, len(stops))
    channels = [np.interp(grey, positions, stops[:, band]) for band in range(3)]
    return [int(value) for channel in channels for value in np.round(channel)]


def _row(values: list[float]) -> npt.NDArray[np.float32]:
    return np.asarray(values, dtype=np.float32)[None, :]


def _column(values: list[float]) -> npt.NDArray[np.float32]:
    return np.asarray(values, dtype=np.float32)[:, None]


@dataclass(frozen=True)
class _Shape:
    kind: str
    colour: Colour
    radius: float
    anchor: tuple[float, float]
    amplitude: tuple[float, float]
    frequency: tuple[float, float]
    phase: tuple[float, float]
    spin: float
    opacity: float

    def draw(self, image: Image.Image, moment: float) -> None:
        width, height = image.size
        centre_x = self.anchor[0] * width + self.amplitude[0] * math.sin(
            math.tau * self.frequency[0] * moment + self.phase[0]
        )
        centre_y = self.anchor[1] * height + self.amplitude[1] * math.sin(
            math.tau * self.frequency[1] * moment + self.phase[1]
        )
        reach = self.radius * 1.2 + 2.0
        left, right = max(0, math.floor(centre_x - reach)), min(width, math.ceil(centre_x + reach))
        top, bottom = max(0, math.floor(centre_y - reach)), min(height, math.ceil(centre_y + reach))
        if left >= right or top >= bottom:
            return
        xs = np.arange(left, right, dtype=np.float32)[None, :] + np.float32(0.5 - centre_x)
        ys = np.arange(top, bottom, dtype=np.float32)[:, None] + np.float32(0.5 - centre_y)
        coverage = self._coverage(xs, ys, moment)
        alpha = np.clip(coverage * np.float32(255.0 * self.opacity) + np.float32(0.5), 0, 255)
        mask = Image.fromarray(alpha.astype(np.uint8), "L")
        image.paste(self.colour, (left, top, right, bottom), mask)

    def _coverage(
        self, xs: npt.NDArray[np.float32], ys: npt.NDArray[np.float32], moment: float
    ) -> npt.NDArray[np.float32]:
        coverage: npt.NDArray[np.float32]
        if self.kind == "square":
            angle = self.spin * moment
            cos_a, sin_a = np.float32(math.cos(angle)), np.float32(math.sin(angle))
            along = np.abs(xs * cos_a + ys * sin_a)
            across = np.abs(ys * cos_a - xs * sin_a)
            distance = np.maximum(along, across)
            coverage = np.clip(np.float32(self.radius * 0.8 + 0.5) - distance, 0.0, 1.0)
            return coverage
        distance = np.sqrt(xs * xs + ys * ys)
        if self.kind == "ring":
            half = np.float32(max(1.0, self.radius * 0.16) + 0.5)
            coverage = np.clip(half - np.abs(distance - np.float32(self.radius)), 0.0, 1.0)
        else:
            coverage = np.clip(np.float32(self.radius + 0.5) - distance, 0.0, 1.0)
        return coverage


class PromptScene:
    """An animated gradient with a drifting glow and moving shapes, derived from prompt and seed.

    Transcendental functions go through :mod:`math` on one-dimensional profiles, so frames
    do not depend on which SIMD kernels numpy picks on a given CPU.
    """

    def __init__(
        self,
        prompt: str,
        seed: int,
        width: int,
        height: int,
        fps: int,
        *,
        shapes: bool = True,
        brightness: float = 1.0,
    ) -> None:
        self.size = (width, height)
        self.fps = fps
        rng = seeded_rng("scene", prompt, seed)
        dark, mid, bright, accent = prompt_palette(prompt, seed)
        self._from = np.asarray(dark, dtype=np.float32)
        self._to = np.asarray(mid, dtype=np.float32)
        self._glow = np.asarray(accent, dtype=np.float32)
        self._brightness = np.float32(brightness)
        small_w = max(2, math.ceil(width / _BACKGROUND_DOWNSCALE))
        small_h = max(2, math.ceil(height / _BACKGROUND_DOWNSCALE))
        aspect = width / height
        self._xs = [(column + 0.5) / small_w * aspect for column in range(small_w)]
        self._ys = [(row + 0.5) / small_h for row in range(small_h)]
        angle = rng.uniform(0.0, math.tau)
        density = rng.uniform(2.5, 6.0)
        self._wave_x = [x * math.cos(angle) * density for x in self._xs]
        wave_y = [y * math.sin(angle) * density for y in self._ys]
        self._wave_cos_y = _column([math.cos(value) for value in wave_y])
        self._wave_sin_y = _column([math.sin(value) for value in wave_y])
        self._wave_speed = rng.uniform(0.8, 1.8) * float(rng.choice((-1.0, 1.0)))
        self._glow_path = (
            rng.uniform(0.3, 0.7) * aspect,
            rng.uniform(0.25, 0.45) * aspect,
            rng.uniform(0.35, 0.65),
            rng.uniform(0.2, 0.35),
            rng.uniform(0.15, 0.35),
            rng.uniform(0.0, math.tau),
        )
        self._shapes = self._make_shapes(rng, (bright, accent)) if shapes else []

    def _make_shapes(self, rng: np.random.Generator, colours: tuple[Colour, ...]) -> list[_Shape]:
        width, height = self.size
        unit = min(width, height)
        shapes = []
        for _ in range(int(rng.integers(3, 7))):
            radius = rng.uniform(0.07, 0.17) * unit
            shapes.append(
                _Shape(
                    kind=str(rng.choice(("disc", "square", "ring"))),
                    colour=colours[int(rng.integers(len(colours)))],
                    radius=radius,
                    anchor=(rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85)),
                    amplitude=(rng.uniform(0.12, 0.3) * width, rng.uniform(0.1, 0.25) * height),
                    frequency=(rng.uniform(0.12, 0.35), rng.uniform(0.12, 0.35)),
                    phase=(rng.uniform(0.0, math.tau), rng.uniform(0.0, math.tau)),
                    spin=rng.uniform(-1.2, 1.2),
                    opacity=rng.uniform(0.7, 0.95),
                )
            )
        return shapes

    def frame(self, index: int) -> Image.Image:
        """The scene at frame ``index``."""
        moment = index / self.fps
        turn = self._wave_speed * moment
        wave = self._wave_cos_y * _row([math.sin(x + turn) for x in self._wave_x])
        wave += self._wave_sin_y * _row([math.cos(x + turn) for x in self._wave_x])
        blend = 0.5 + 0.5 * wave
        colours = self._from + (self._to - self._from) * blend[..., None]
        centre_x, swing_x, centre_y, swing_y, speed, offset = self._glow_path
        glow_x = centre_x + swing_x * math.sin(math.tau * speed * moment + offset)
        glow_y = centre_y + swing_y * math.cos(math.tau * speed * 0.7 * moment + offset)
        glow = _column([math.exp(-5.0 * (y - glow_y) ** 2) for y in self._ys]) * _row(
            [0.55 * math.exp(-5.0 * (x - glow_x) ** 2) for x in self._xs]
        )
        colours += (self._glow - colours) * glow[..., None]
        colours *= self._brightness
        pixels = np.clip(colours + np.float32(0.5), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels, "RGB").resize(self.size, Image.Resampling.BILINEAR)
        for shape in self._shapes:
            shape.draw(image, moment)
        return image
