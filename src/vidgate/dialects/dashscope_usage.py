"""The `usage` block of a DashScope task, in the shape DashScope gives each Wan family.

Wan 2.1 models bill `video_duration` and name the output size as `video_ratio` (which the
dashscope SDK reads as `usage.video_duration` / `usage.video_ratio`); Wan 2.2 and 2.5 give the
`duration` and resolution tier `SR`; Wan 2.6, 2.7 and every other model give the whole block
the task query documents: `duration` = input + output seconds, `SR` and `ratio`.
"""

from __future__ import annotations

from typing import Any

from vidgate.models import Usage

__all__ = ["family_of", "read_usage", "render_usage"]

TIERED = ("wan2.2-", "wan2.5-")
SIZED = ("wan2.1-", "wanx2.1-", "wanx-")


def family_of(model: str) -> str:
    """`sized` (Wan 2.1 and older), `tiered` (Wan 2.2, 2.5) or `full` (the rest)."""
    if model.startswith(SIZED):
        return "sized"
    if model.startswith(TIERED):
        return "tiered"
    return "full"


def _whole(value: float) -> float | int:
    """Whole seconds as integers (`"duration": 15`), as DashScope writes them."""
    return int(value) if value.is_integer() else value


def render_usage(usage: Usage, model: str, size: str | None) -> dict[str, Any]:
    """The usage block DashScope answers for a task of ``model``; ``size`` is `W*H`."""
    family = family_of(model)
    if family == "sized":
        return {
            "video_duration": _whole(usage.output_video_duration),
            "video_ratio": size or usage.ratio,
            "video_count": usage.video_count,
        }
    if family == "tiered":
        return {
            "duration": _whole(usage.output_video_duration),
            "video_count": usage.video_count,
            "SR": usage.SR,
        }
    data = usage.model_dump(mode="json")
    return {k: _whole(v) if isinstance(v, float) else v for k, v in data.items()}


def read_usage(usage: object) -> Usage | None:
    """A usage block of any family as the canonical one; None when it is partial."""
    if not isinstance(usage, dict):
        return None
    if all(name in usage for name in Usage.model_fields):
        return Usage.model_validate(usage)
    seconds = usage.get("video_duration", usage.get("duration"))
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return None
    if "video_duration" in usage and isinstance(usage.get("video_ratio"), str):
        width, _, height = str(usage["video_ratio"]).partition("*")
        tier = min(int(width), int(height)) if width.isdigit() and height.isdigit() else 0
        return Usage(
            duration=seconds,
            input_video_duration=0,
            output_video_duration=seconds,
            video_count=_count(usage),
            SR=tier,
            ratio=str(usage["video_ratio"]),
        )
    if "SR" in usage and isinstance(usage["SR"], int):
        return Usage(
            duration=seconds,
            input_video_duration=0,
            output_video_duration=seconds,
            video_count=_count(usage),
            SR=usage["SR"],
            ratio="",
        )
    return None


def _count(usage: dict[str, Any]) -> int:
    count = usage.get("video_count", 1)
    return count if isinstance(count, int) and not isinstance(count, bool) else 1
