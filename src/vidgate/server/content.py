"""A finished task's video and its preview images, served through the dialects' routes.

Previews are cut from the result video with PyAV on first request and kept as blobs next to it:
a thumbnail (the middle frame, WebP) and a spritesheet (evenly spaced frames in a grid, JPEG).
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from starlette.requests import Request
from starlette.responses import Response

from vidgate.blobs.results import (
    SPRITESHEET_SUFFIX,
    THUMBNAIL_SUFFIX,
    preview_name,
    result_blob_names,
)
from vidgate.errors import ApiError, Conflict
from vidgate.models import Status, Task
from vidgate.server.blobresponse import blob_response
from vidgate.service import Services

if TYPE_CHECKING:
    import av
    from PIL import Image

__all__ = ["VARIANTS", "Gone", "Variant", "content_response", "discard_content"]

Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANTS: tuple[Variant, ...] = ("video", "thumbnail", "spritesheet")
PREVIEWS: dict[str, tuple[str, str, str]] = {
    "thumbnail": (THUMBNAIL_SUFFIX, "WEBP", "image/webp"),
    "spritesheet": (SPRITESHEET_SUFFIX, "JPEG", "image/jpeg"),
}
SPRITE_COLUMNS = 4
SPRITE_FRAMES = 12
SPRITE_WIDTH = 256


class Gone(ApiError):
    """The task finished, but its video has been deleted."""

    status_code = 404
    code = "video_deleted"


def _video_blob(services: Services, task: Task) -> str | None:
    if task.result is None:
        return None
    return services.blobs.resolve_own_url(task.result.video_url)


def _frame_count(stream: av.video.stream.VideoStream) -> int:
    if stream.frames:
        return int(stream.frames)
    if stream.duration is not None and stream.time_base is not None and stream.average_rate:
        return max(1, int(stream.duration * stream.time_base * stream.average_rate))
    return 1


def _pick(count: int, wanted: int) -> list[int]:
    """`wanted` frame indices spread evenly over `count` frames, each in the middle of its span."""
    wanted = min(wanted, count)
    return sorted({min(count - 1, int((i + 0.5) * count / wanted)) for i in range(wanted)})


def _frames(video: Path, indices: list[int]) -> list[Image.Image]:
    import av

    wanted = set(indices)
    images: list[Image.Image] = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                images.append(frame.to_image())  # type: ignore[no-untyped-call]
            if index >= indices[-1]:
                break
    return images


def _render_preview(variant: str, video: Path, out: Path) -> None:
    import av
    from PIL import Image

    with av.open(str(video)) as container:
        count = _frame_count(container.streams.video[0])
    if variant == "thumbnail":
        frames = _frames(video, [count // 2])
        if not frames:
            frames = _frames(video, [0])
        frames[0].save(out, format="WEBP", quality=85)
        return
    frames = _frames(video, _pick(count, SPRITE_FRAMES))
    width = SPRITE_WIDTH
    height = max(1, round(width * frames[0].height / frames[0].width))
    columns = min(SPRITE_COLUMNS, len(frames))
    sheet = Image.new("RGB", (columns * width, math.ceil(len(frames) / columns) * height))
    for i, frame in enumerate(frames):
        tile = frame.resize((width, height), Image.Resampling.BILINEAR)
        sheet.paste(tile, ((i % columns) * width, (i // columns) * height))
    sheet.save(out, format="JPEG", quality=85)


async def _preview(services: Services, blob: str, variant: str) -> str:
    suffix, _, _ = PREVIEWS[variant]
    name = preview_name(blob, suffix)
    if await services.blobs.exists(name):
        return name
    staged = services.blobs.staging(name, suffix)
    try:
        video = await services.blobs.local_copy(blob)
        await asyncio.to_thread(_render_preview, variant, video, staged)
        await services.blobs.commit(staged, name)
        return name
    finally:
        staged.unlink(missing_ok=True)


async def content_response(
    services: Services, task: Task, variant: str, request: Request
) -> Response:
    """The video (Range supported) or one of its previews; 409 until the task completes."""
    if task.status in (Status.CANCELLED, Status.FAILED):
        raise Conflict(
            f"Task {task.task_id} was {task.status.value}; it has no content and never will.",
            param="task_id",
            code=f"video_{task.status.value}",
        )
    if task.status is not Status.COMPLETED:
        raise Conflict(
            f"Task {task.task_id} is {task.status.value}; its content exists once it completes.",
            param="task_id",
            code="video_not_ready",
        )
    gone = Gone(f"The video of task {task.task_id} has been deleted.", param="task_id")
    blob = _video_blob(services, task)
    if blob is None or not await services.blobs.exists(blob):
        raise gone
    if variant == "video":
        name, media_type = blob, "video/mp4"
    else:
        try:
            name = await _preview(services, blob, variant)
        except FileNotFoundError:
            raise gone from None
        media_type = PREVIEWS[variant][2]
    response = await blob_response(services.blobs, name, request, media_type)
    if response is None:
        raise gone
    return response


async def discard_content(services: Services, task: Task) -> None:
    """Delete a finished task's video and its previews; the task itself stays on record."""
    blob = _video_blob(services, task)
    if blob is None:
        return
    for name in result_blob_names(blob):
        await services.blobs.delete(name)
