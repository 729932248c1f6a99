"""The local renderer as a provider: real MP4 on this machine, no keys, no network."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

from vidgate.errors import public_message
from vidgate.providers.base import Job, ProviderError, ProviderLimits, Rendered, ReportProgress
from vidgate.providers.local.spec import RenderCancelled, RenderSpec

__all__ = ["LocalProvider", "spec_for"]


def spec_for(job: Job) -> RenderSpec:
    """Translate a job into the renderer's terms."""
    references = ("reference_urls", "ref_images_url")
    request = job.request
    return RenderSpec(
        mode=job.mode.value,
        prompt=request.prompt,
        width=job.shape.width,
        height=job.shape.height,
        fps=job.shape.fps,
        duration=job.shape.duration,
        seed=job.seed,
        model=job.model,
        negative_prompt=request.negative_prompt,
        function=request.function,
        image=job.file("img_url"),
        first_frame=job.file("first_frame_url"),
        last_frame=job.file("last_frame_url"),
        reference_images=tuple(job.files(*references, kind="image")),
        reference_videos=tuple(job.files(*references, kind="video")),
        video=job.file("video_url"),
        mask_image=job.file("mask_image_url"),
        mask_video=job.file("mask_video_url"),
        params=dict(request.vace),
    )


class LocalProvider:
    """Renders with PyAV in worker threads, one thread per running job."""

    name = "local"

    def __init__(self, concurrency: int = 2) -> None:
        self.limits = ProviderLimits(
            concurrency=concurrency, poll_interval=1.0, can_cancel_running=True
        )

    async def run(self, job: Job, out_path: Path, report: ReportProgress) -> Rendered:
        from vidgate.providers.local.render import render_video

        loop = asyncio.get_running_loop()
        stop = threading.Event()
        updates: asyncio.Queue[int | None] = asyncio.Queue()

        def on_progress(percent: int) -> None:
            loop.call_soon_threadsafe(updates.put_nowait, percent)

        async def forward() -> None:
            while (percent := await updates.get()) is not None:
                await report(percent)

        forwarder = asyncio.create_task(forward())
        worker = asyncio.ensure_future(
            asyncio.to_thread(render_video, spec_for(job), out_path, on_progress, stop.is_set)
        )
        try:
            info = await asyncio.shield(worker)
        except asyncio.CancelledError:
            stop.set()
            forwarder.cancel()
            with contextlib.suppress(RenderCancelled, ValueError):
                await worker
            raise
        except ValueError as exc:
            forwarder.cancel()
            raise ProviderError("invalid_input", public_message(str(exc))) from exc
        updates.put_nowait(None)
        await forwarder
        return Rendered(
            path=out_path,
            width=info.width,
            height=info.height,
            fps=info.fps,
            duration=info.duration,
            input_video_duration=info.input_video_duration,
        )
