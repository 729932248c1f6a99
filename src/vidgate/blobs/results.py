"""The blobs one task result is kept as: the video, and the previews cut from it."""

from __future__ import annotations

__all__ = ["SPRITESHEET_SUFFIX", "THUMBNAIL_SUFFIX", "preview_name", "result_blob_names"]

THUMBNAIL_SUFFIX = ".thumbnail.webp"
SPRITESHEET_SUFFIX = ".spritesheet.jpg"


def preview_name(video_blob: str, suffix: str) -> str:
    """The blob a preview of ``video_blob`` is kept as (`task.1.mp4` → `task.1.thumbnail.webp`)."""
    return video_blob.rsplit(".", 1)[0] + suffix


def result_blob_names(video_blob: str) -> tuple[str, ...]:
    """The video blob and every preview blob that may exist next to it."""
    return (
        video_blob,
        *(preview_name(video_blob, s) for s in (THUMBNAIL_SUFFIX, SPRITESHEET_SUFFIX)),
    )
