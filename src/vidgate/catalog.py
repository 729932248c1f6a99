"""The models vidgate knows: their modes, durations, sizes and how long they take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.models import Mode

__all__ = [
    "DEFAULT_MODELS",
    "MODELS",
    "SIZES",
    "VACE_FUNCTIONS",
    "VACE_INPUTS",
    "ModelSpec",
    "Scenario",
    "Shape",
    "resolve_model",
    "resolve_shape",
    "scenario_for",
]

SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "480P": {"16:9": (832, 480), "9:16": (480, 832), "1:1": (624, 624)},
    "720P": {
        "16:9": (1280, 720),
        "9:16": (720, 1280),
        "1:1": (960, 960),
        "4:3": (1088, 832),
        "3:4": (832, 1088),
    },
    "768P": {"16:9": (1366, 768)},
    "1080P": {
        "16:9": (1920, 1080),
        "9:16": (1080, 1920),
        "1:1": (1440, 1440),
        "4:3": (1632, 1248),
        "3:4": (1248, 1632),
    },
}
SORA_SIZES = {"720x1280": (720, 1280), "1280x720": (1280, 720)}
SORA_PRO_SIZES = {**SORA_SIZES, "1024x1792": (1024, 1792), "1792x1024": (1792, 1024)}
RUNWAY_SIZES = {
    f"{w}x{h}": (w, h)
    for w, h in ((1280, 720), (720, 1280), (1104, 832), (832, 1104), (960, 960), (1584, 672))
}
"""Runway's Gen-4 `ratio`s, which are pixel sizes (`1280:720`)."""

DEFAULT_MODELS: dict[Mode, str] = {
    Mode.T2V: "wan2.6-t2v",
    Mode.I2V: "wan2.6-i2v-flash",
    Mode.KF2V: "wan2.2-kf2v-flash",
    Mode.R2V: "wan2.6-r2v-flash",
    Mode.VACE: "wan2.1-vace-plus",
}
VACE_INPUTS: dict[str, tuple[str, ...]] = {
    "image_reference": ("ref_images_url", "reference_urls"),
    "video_repainting": ("video_url",),
    "video_edit": ("video_url",),
    "video_extension": ("video_url",),
    "video_outpainting": ("video_url",),
}
"""The input fields each VACE function needs one of, the first named in errors."""
VACE_FUNCTIONS = tuple(VACE_INPUTS)


@dataclass(frozen=True)
class Scenario:
    """One row of the video.py client's table of recommended intervals."""

    modes: tuple[Mode, ...]
    description: str
    poll_interval: int
    timeout: int
    typical_seconds: tuple[int, int]
    """How long such a job usually takes: (fastest, slowest) in seconds."""

    @property
    def typical_time(self) -> str:
        """The typical time as the video.py client's table writes it, such as ``1-3 min``."""
        low, high = (seconds // 60 for seconds in self.typical_seconds)
        return f"{low}-{high} min"


SCENARIOS = (
    Scenario((Mode.T2V, Mode.I2V), "5s, 720P", 10, 300, (60, 180)),
    Scenario((Mode.T2V, Mode.I2V), "10-15s, 720P", 15, 600, (180, 360)),
    Scenario((Mode.T2V, Mode.I2V), "10-15s, 1080P, multi-shot", 20, 900, (300, 600)),
    Scenario((Mode.KF2V,), "5s", 10, 300, (60, 180)),
    Scenario((Mode.R2V,), "2-10s, multi-character", 15, 600, (120, 300)),
    Scenario((Mode.VACE,), "any function", 10, 300, (60, 240)),
)


def scenario_for(mode: Mode, duration: int, resolution: str) -> Scenario:
    """Pick the video.py client's row for a job of this mode, length and resolution tier."""
    if mode in (Mode.T2V, Mode.I2V):
        if duration <= 5:
            return SCENARIOS[0]
        return SCENARIOS[2] if resolution == "1080P" else SCENARIOS[1]
    return next(s for s in SCENARIOS if mode in s.modes)


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts."""

    id: str
    modes: tuple[Mode, ...]
    durations: tuple[int, ...]
    default_duration: int
    resolutions: tuple[str, ...] = ("480P", "720P", "1080P")
    default_resolution: str = "720P"
    fps: int = 24
    named_sizes: dict[str, tuple[int, int]] | None = None
    default_size: str | None = None
    protocol: str = "legacy"
    """How DashScope takes its inputs: `legacy` fields (`img_url`, `reference_urls` …) and a
    `size` or `resolution`, or `media`, a list of typed assets, with `resolution` and
    `ratio` (Wan 2.7)."""
    ratios: tuple[str, ...] | None = None
    """The aspect ratios the model renders, where fewer than its tiers' (None: all of them)."""
    tier_durations: dict[str, tuple[int, ...]] | None = None
    """Durations a resolution tier is limited to, where it is (Veo's 1080p: 8 s only)."""
    typical_seconds: tuple[int, int] | None = None
    """How long the provider usually takes, (fastest, slowest) in seconds, where it publishes
    or is known for its own figure; None takes the Wan table's row for the mode."""
    poll_interval: int | None = None
    """The provider's recommended seconds between polls; None takes the Wan table's."""

    def typical_time(self) -> str:
        """The typical time as the Wan table writes it (`1-3 min`), in seconds when under one."""
        scenario = scenario_for(self.modes[0], self.default_duration, self.default_resolution)
        if self.typical_seconds is None:
            return scenario.typical_time
        low, high = self.typical_seconds
        if low < 60:
            return f"{low} s-{high // 60} min"
        return f"{low // 60}-{high // 60} min"

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Every size this model renders, keyed by its wire spelling."""
        if self.named_sizes is not None:
            return dict(self.named_sizes)
        return {
            f"{w}*{h}": (w, h)
            for tier in self.resolutions
            for ratio, (w, h) in SIZES[tier].items()
            if self.ratios is None or ratio in self.ratios
        }

    def describe(self) -> dict[str, Any]:
        """The model as `GET /v1/models` lists it."""
        scenario = scenario_for(self.modes[0], self.default_duration, self.default_resolution)
        return {
            "id": self.id,
            "object": "model",
            "modes": [m.value for m in self.modes],
            "durations": list(self.durations),
            "default_duration": self.default_duration,
            "resolutions": [] if self.named_sizes else list(self.resolutions),
            "ratios": sorted(
                {r for t in self.resolutions for r in SIZES[t] if r in (self.ratios or SIZES[t])}
            )
            if not self.named_sizes
            else [],
            "sizes": list(self.sizes()),
            "fps": self.fps,
            "typical_time": self.typical_time(),
            "suggested_poll_interval": self.poll_interval or scenario.poll_interval,
            "suggested_timeout": scenario.timeout,
            "scenarios": [
                {
                    "mode": m.value,
                    "description": s.description,
                    "poll_interval": s.poll_interval,
                    "timeout": s.timeout,
                    "typical_time": s.typical_time,
                }
                for s in SCENARIOS
                for m in s.modes
                if m in self.modes
            ],
        }


def _span(low: int, high: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1))


KLING_RATIOS = ("16:9", "9:16", "1:1")
HOSTED_TIME = (60, 360)
"""Kling's and MiniMax's usual 1-6 minutes; both are polled every 10 s, as their examples do."""
VEO_TIME = (11, 360)
"""Google's figure for Veo: from 11 seconds to 6 minutes at peak hours."""
KLING_MODELS = (
    ModelSpec(
        "kling-v2-1-master",
        (Mode.T2V, Mode.I2V),
        (5, 10),
        5,
        ("1080P",),
        "1080P",
        ratios=KLING_RATIOS,
        typical_seconds=HOSTED_TIME,
        poll_interval=10,
    ),
    ModelSpec(
        "kling-v2-5-turbo",
        (Mode.T2V, Mode.I2V),
        (5, 10),
        5,
        ("720P", "1080P"),
        ratios=KLING_RATIOS,
        typical_seconds=HOSTED_TIME,
        poll_interval=10,
    ),
    ModelSpec(
        "kling-v1-6",
        (Mode.T2V, Mode.I2V),
        (5, 10),
        5,
        ("720P", "1080P"),
        ratios=KLING_RATIOS,
        typical_seconds=HOSTED_TIME,
        poll_interval=10,
    ),
)
"""Kling's models: 720P is its `std` mode, 1080P `pro`."""
MINIMAX_MODELS = (
    ModelSpec(
        "MiniMax-Hailuo-02",
        (Mode.T2V, Mode.I2V),
        (6, 10),
        6,
        ("768P", "1080P"),
        "768P",
        ratios=("16:9",),
        typical_seconds=HOSTED_TIME,
        poll_interval=10,
        tier_durations={"1080P": (6,)},
    ),
    ModelSpec(
        "T2V-01",
        (Mode.T2V,),
        (6,),
        6,
        ("720P",),
        ratios=("16:9",),
        typical_seconds=HOSTED_TIME,
        poll_interval=10,
    ),
    ModelSpec(
        "I2V-01",
        (Mode.I2V,),
        (6,),
        6,
        ("720P",),
        ratios=("16:9",),
        typical_seconds=HOSTED_TIME,
        poll_interval=10,
    ),
)
VEO_RATIOS = ("16:9", "9:16")
VEO_3_MODELS = ("veo-3.1-generate-preview", "veo-3.0-generate-001", "veo-3.0-fast-generate-001")
VEO_MODELS = (
    *(
        ModelSpec(
            name,
            (Mode.T2V, Mode.I2V),
            (4, 6, 8),
            8,
            ("720P", "1080P"),
            ratios=VEO_RATIOS,
            typical_seconds=VEO_TIME,
            poll_interval=10,
            tier_durations={"1080P": (8,)},
        )
        for name in VEO_3_MODELS
    ),
    ModelSpec(
        "veo-2.0-generate-001",
        (Mode.T2V, Mode.I2V),
        _span(5, 8),
        8,
        ("720P",),
        ratios=VEO_RATIOS,
        typical_seconds=VEO_TIME,
        poll_interval=10,
    ),
)
"""Veo in the Gemini API; 1080p renders 8 s only."""


MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            "wan2.7-t2v",
            (Mode.T2V,),
            _span(2, 15),
            5,
            ("720P", "1080P"),
            "1080P",
            30,
            protocol="media",
        ),
        ModelSpec(
            "wan2.7-i2v",
            (Mode.I2V, Mode.KF2V, Mode.VACE),
            _span(2, 15),
            5,
            ("720P", "1080P"),
            "1080P",
            30,
            protocol="media",
        ),
        ModelSpec(
            "wan2.7-r2v",
            (Mode.R2V,),
            _span(2, 10),
            5,
            ("720P", "1080P"),
            "1080P",
            30,
            protocol="media",
        ),
        ModelSpec("wan2.6-t2v", (Mode.T2V,), _span(2, 15), 5),
        ModelSpec("wan2.6-i2v", (Mode.I2V,), _span(2, 15), 5),
        ModelSpec("wan2.6-i2v-flash", (Mode.I2V,), _span(2, 15), 5),
        ModelSpec("wan2.6-r2v", (Mode.R2V,), _span(2, 10), 5),
        ModelSpec("wan2.6-r2v-flash", (Mode.R2V,), _span(2, 10), 5),
        ModelSpec("wan2.5-t2v-preview", (Mode.T2V,), (5, 10), 5),
        ModelSpec("wan2.5-i2v-preview", (Mode.I2V,), (5, 10), 5),
        ModelSpec("wan2.2-t2v-plus", (Mode.T2V,), (5,), 5, ("480P", "1080P"), "1080P", 30),
        ModelSpec("wan2.2-i2v-plus", (Mode.I2V,), (5,), 5, ("480P", "1080P"), "1080P", 30),
        ModelSpec("wan2.2-kf2v-flash", (Mode.KF2V,), (5,), 5, fps=30),
        ModelSpec("wan2.1-kf2v-plus", (Mode.KF2V,), (5,), 5, ("720P",), fps=16),
        ModelSpec("wan2.1-t2v-turbo", (Mode.T2V,), (5,), 5, ("480P", "720P"), fps=16),
        ModelSpec("wan2.1-t2v-plus", (Mode.T2V,), (5,), 5, ("720P",), fps=16),
        ModelSpec("wan2.1-vace-plus", (Mode.VACE,), (5,), 5, ("720P",), fps=16),
        ModelSpec("veo3", (Mode.T2V, Mode.I2V), _span(4, 8), 8, ("720P", "1080P")),
        *KLING_MODELS,
        *MINIMAX_MODELS,
        *VEO_MODELS,
        ModelSpec(
            "sora-2",
            (Mode.T2V, Mode.I2V),
            (4, 8, 12),
            4,
            named_sizes=SORA_SIZES,
            default_size="720x1280",
        ),
        ModelSpec(
            "sora-2-pro",
            (Mode.T2V, Mode.I2V),
            (4, 8, 12),
            4,
            named_sizes=SORA_PRO_SIZES,
            default_size="720x1280",
        ),
        ModelSpec(
            "gen4_turbo",
            (Mode.I2V,),
            (5, 10),
            5,
            named_sizes=RUNWAY_SIZES,
            default_size="1280x720",
        ),
        ModelSpec(
            "gen4.5",
            (Mode.T2V, Mode.I2V),
            _span(2, 10),
            5,
            named_sizes={k: RUNWAY_SIZES[k] for k in ("1280x720", "720x1280")},
            default_size="1280x720",
        ),
        ModelSpec("ray-2", (Mode.T2V, Mode.I2V, Mode.KF2V), (5, 9), 5, ("720P", "1080P")),
        ModelSpec("ray-flash-2", (Mode.T2V, Mode.I2V, Mode.KF2V), (5, 9), 5, ("720P", "1080P")),
        ModelSpec(
            "fal-ai/wan/v2.2-a14b/text-to-video", (Mode.T2V,), (5,), 5, ("480P", "720P"), fps=16
        ),
        ModelSpec(
            "fal-ai/wan/v2.2-a14b/image-to-video", (Mode.I2V,), (5,), 5, ("480P", "720P"), fps=16
        ),
        ModelSpec("wan-video/wan-2.2-t2v-fast", (Mode.T2V,), (5,), 5, ("480P", "720P"), fps=16),
        ModelSpec("wan-video/wan-2.2-i2v-fast", (Mode.I2V,), (5,), 5, ("480P", "720P"), fps=16),
    )
}


def resolve_model(requested: str | None, mode: Mode) -> ModelSpec:
    """The model to render with: the one asked for, or the mode's default."""
    model_id = requested or DEFAULT_MODELS[mode]
    spec = MODELS.get(model_id)
    if spec is None:
        raise InvalidRequest(
            f"Unknown model {model_id!r}; GET /v1/models lists the models available.",
            param="model",
            code="model_not_found",
        )
    if mode not in spec.modes:
        modes = ", ".join(m.value for m in spec.modes)
        raise InvalidRequest(
            f"Model {model_id!r} does not support mode {mode.value!r} (it supports {modes}).",
            param="mode",
        )
    return spec


@dataclass(frozen=True)
class Shape:
    """The resolved output geometry and timing of a job."""

    width: int
    height: int
    fps: int
    duration: int
    resolution: str
    ratio: str


def _parse_size(text: str) -> tuple[int, int] | None:
    for sep in ("*", "x", "X"):
        if sep in text:
            left, _, right = text.partition(sep)
            if left.strip().isdigit() and right.strip().isdigit():
                return int(left), int(right)
    return None


def _ratio_of(width: int, height: int) -> str:
    best = min(
        ("16:9", "9:16", "1:1", "4:3", "3:4"),
        key=lambda r: abs(int(r.split(":")[0]) / int(r.split(":")[1]) - width / height),
    )
    return best


def _tier_of(width: int, height: int) -> str:
    for tier, sizes in SIZES.items():
        if (width, height) in sizes.values():
            return tier
    return f"{min(width, height)}P"


def resolve_shape(
    spec: ModelSpec,
    *,
    duration: int | None,
    resolution: str | None,
    size: str | None,
    ratio: str | None,
    fps: int | None,
) -> Shape:
    """Check duration, size/resolution, ratio and fps against the model, naming the bad field."""
    seconds = spec.default_duration if duration is None else duration
    if seconds not in spec.durations:
        allowed = (
            f"{spec.durations[0]}-{spec.durations[-1]}"
            if spec.durations == _span(spec.durations[0], spec.durations[-1])
            and len(spec.durations) > 2
            else ", ".join(map(str, spec.durations))
        )
        raise InvalidRequest(
            f"duration {seconds} is not supported by {spec.id}; allowed seconds: {allowed}.",
            param="duration",
        )
    rate = spec.fps if fps is None else fps
    if not 8 <= rate <= 60:
        raise InvalidRequest(f"fps {rate} is out of range 8-60.", param="fps")

    if size is not None:
        if resolution is not None:
            raise InvalidRequest("Give either size or resolution, not both.", param="size")
        parsed = _parse_size(size)
        sizes = spec.sizes()
        if parsed is None or parsed not in sizes.values():
            raise InvalidRequest(
                f"size {size!r} is not supported by {spec.id}; allowed: {', '.join(sizes)}.",
                param="size",
            )
        width, height = parsed
        found = _ratio_of(width, height)
        if ratio is not None and ratio != found:
            raise InvalidRequest(f"ratio {ratio!r} contradicts size {size!r}.", param="ratio")
        tier = _tier_of(width, height)
        _check_tier_duration(spec, tier, seconds)
        return Shape(width, height, rate, seconds, tier, found)

    if spec.named_sizes is not None:
        if resolution is not None:
            raise InvalidRequest(
                f"{spec.id} takes size ({', '.join(spec.named_sizes)}), not resolution.",
                param="resolution",
            )
        default = spec.named_sizes[spec.default_size or next(iter(spec.named_sizes))]
        wanted = ratio or _ratio_of(*default)
        for w, h in spec.named_sizes.values():
            if _ratio_of(w, h) == wanted:
                return Shape(w, h, rate, seconds, _tier_of(w, h), wanted)
        raise InvalidRequest(f"ratio {ratio!r} is not supported by {spec.id}.", param="ratio")

    tier = (resolution or spec.default_resolution).upper()
    if tier not in spec.resolutions:
        raise InvalidRequest(
            f"resolution {resolution!r} is not supported by {spec.id}; "
            f"allowed: {', '.join(spec.resolutions)}.",
            param="resolution",
        )
    wanted = ratio or "16:9"
    allowed_ratios = [r for r in SIZES[tier] if spec.ratios is None or r in spec.ratios]
    if wanted not in allowed_ratios:
        raise InvalidRequest(
            f"ratio {wanted!r} is not available at {tier} on {spec.id}; "
            f"allowed: {', '.join(allowed_ratios)}.",
            param="ratio",
        )
    _check_tier_duration(spec, tier, seconds)
    width, height = SIZES[tier][wanted]
    return Shape(width, height, rate, seconds, tier, wanted)


def _check_tier_duration(spec: ModelSpec, tier: str, seconds: int) -> None:
    allowed = (spec.tier_durations or {}).get(tier)
    if allowed is not None and seconds not in allowed:
        raise InvalidRequest(
            f"duration {seconds} is not available at {tier} on {spec.id}; "
            f"allowed seconds: {', '.join(map(str, allowed))}.",
            param="duration",
        )
