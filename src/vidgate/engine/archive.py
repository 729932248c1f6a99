"""Re-hosting: copy an upstream result into the blob store before its URL expires."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vidgate.blobs import BlobStore
from vidgate.engine.finish import resolution_tier
from vidgate.models import Usage
from vidgate.providers.upstream import UpstreamError, UpstreamProvider
from vidgate.records import StoredResult, TaskRecord

__all__ = ["archive_result", "probe_video"]


def probe_video(path: Path) -> tuple[int, int, int, float]:
    """Width, height, frames per second and seconds of an MP4, or ValueError."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or 0
            if container.duration is not None:
                seconds = container.duration / 1_000_000
            else:
                seconds = float(stream.frames / rate) if rate else 0.0
            return stream.codec_context.width, stream.codec_context.height, round(rate), seconds
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise ValueError(f"not a readable video: {exc}") from exc


async def archive_result(
    blobs: BlobStore,
    provider: UpstreamProvider,
    task: TaskRecord,
    source_url: str | None,
    upstream_usage: Usage | None,
    max_bytes: int,
) -> tuple[StoredResult, Usage]:
    """Download, check and keep the result; returns the stored result and its usage."""
    assert task.upstream_id is not None and task.credential is not None
    staged = blobs.staging(task.id, ".mp4")
    try:
        await provider.download(task.upstream_id, source_url, task.credential, staged, max_bytes)
        try:
            width, height, fps, seconds = await asyncio.to_thread(probe_video, staged)
        except ValueError as exc:
            raise UpstreamError("transient", "result_invalid", str(exc)) from exc
        name = f"{task.id}.{task.attempts}.mp4"
        size = await blobs.commit(staged, name)
    finally:
        staged.unlink(missing_ok=True)
    seconds = round(seconds, 3)
    result = StoredResult(
        blob=name,
        duration=seconds,
        width=width,
        height=height,
        fps=fps,
        bytes=size,
        source_url=provider.source_url(task.upstream_id, source_url),
    )
    usage = upstream_usage or Usage(
        duration=seconds,
        input_video_duration=0.0,
        output_video_duration=seconds,
        video_count=1,
        SR=resolution_tier(width, height),
        ratio=task.shape.ratio,
    )
    return result, usage
