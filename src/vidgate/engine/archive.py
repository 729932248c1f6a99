"""Re-hosting: copy an upstream result into the blob store before its URL expires."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av

from vidgate.blobs import BlobStore
from vidgate.catalog import SIZES
from vidgate.models import Usage
from vidgate.providers.upstream import UpstreamError, UpstreamProvider
from vidgate.store.store import Row

__all__ = ["archive_result", "probe_video"]


def probe_video(path: Path) -> tuple[int, int, int, float]:
    """Width, height, frames per second and seconds of an MP4, or ValueError."""
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


def _tier(width: int, height: int) -> int:
    for tier, sizes in SIZES.items():
        if (width, height) in sizes.values():
            return int(tier.rstrip("P"))
    return min(width, height)


async def archive_result(
    blobs: BlobStore,
    provider: UpstreamProvider,
    row: Row,
    source_url: str | None,
    upstream_usage: Usage | None,
    max_bytes: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Download, check and keep the result; returns the stored result and usage."""
    task_id = row["id"]
    staged = blobs.staging(task_id, ".mp4")
    try:
        await provider.download(
            row["upstream_id"], source_url, row["credential"], staged, max_bytes
        )
        try:
            width, height, fps, seconds = await asyncio.to_thread(probe_video, staged)
        except ValueError as exc:
            raise UpstreamError("transient", "result_invalid", str(exc)) from exc
        name = f"{task_id}.{row['attempts']}.mp4"
        blobs.commit(staged, name)
    finally:
        staged.unlink(missing_ok=True)
    resolved = row["request"]["resolved"]
    result = {
        "blob": name,
        "duration": round(seconds, 3),
        "width": width,
        "height": height,
        "fps": fps,
        "bytes": blobs.path(name).stat().st_size,
        "source_url": provider.source_url(row["upstream_id"], source_url),
    }
    if upstream_usage is not None:
        usage = upstream_usage.model_dump()
    else:
        usage = {
            "duration": round(seconds, 3),
            "input_video_duration": 0.0,
            "output_video_duration": round(seconds, 3),
            "video_count": 1,
            "SR": _tier(width, height),
            "ratio": resolved["ratio"],
        }
    return result, usage
