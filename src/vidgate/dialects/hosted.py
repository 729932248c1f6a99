"""Pieces the hosted video APIs' outbound sides share (Runway, Luma, fal, Replicate)."""

from __future__ import annotations

from collections.abc import Mapping

from vidgate.dialects.common import StatusWords
from vidgate.dialects.outbound import text
from vidgate.models import Result, Status, Task, TaskError, VideoRequest

__all__ = ["CONTENT_POLICY", "image_of", "snapshot"]

CONTENT_POLICY = "content_policy"
"""The vidgate code family of a provider's moderation refusal; the provider's own code is kept."""


def image_of(request: VideoRequest) -> str | None:
    """The one input image of an image-to-video request, if any."""
    return request.first_frame_url or request.img_url


def snapshot(
    task_id: str,
    word: object,
    words: StatusWords,
    *,
    model: str = "",
    progress: float | None = None,
    video_url: str | None = None,
    error: Mapping[str, object] | None = None,
) -> Task:
    """A task read from a provider: unknown words are processing, never terminal."""
    status = words.canonical(word) or Status.PROCESSING
    if status is Status.COMPLETED and not video_url:
        status = Status.PROCESSING
    failure = None
    if status in (Status.FAILED, Status.CANCELLED):
        code = text(error.get("code")) if error else None
        message = text(error.get("message")) if error else None
        failure = TaskError(
            code=code or ("cancelled" if status is Status.CANCELLED else "upstream_failed"),
            message=message or "The upstream task failed.",
        )
    percent = 100 if status is Status.COMPLETED else int(max(0.0, min(99.0, progress or 0.0)))
    return Task(
        task_id=task_id,
        status=status,
        progress=percent,
        model=model,
        result=Result(video_url=video_url) if status is Status.COMPLETED else None,
        error=failure,
        raw_status=word if isinstance(word, str) else None,
    )
