"""Input media for a request: fetched, size-checked, identified and kept as blobs."""

from __future__ import annotations

import asyncio
import base64
import binascii
from pathlib import Path
from urllib.parse import unquote_to_bytes

from vidgate.blobs import BlobStore
from vidgate.errors import InvalidRequest
from vidgate.ids import new_id
from vidgate.netguard import BlockedAddress, GuardedFetcher
from vidgate.records import MediaKind, StoredInput

__all__ = [
    "INPUT_FIELDS",
    "LIMIT_TEXT",
    "MAX_PIXELS",
    "MAX_SIDE",
    "InputFetcher",
    "MediaTooLarge",
    "check_pixels",
    "probe_media",
]

INPUT_FIELDS: dict[str, tuple[MediaKind, ...]] = {
    "img_url": ("image",),
    "first_frame_url": ("image",),
    "last_frame_url": ("image",),
    "mask_image_url": ("image",),
    "reference_urls": ("image", "video"),
    "ref_images_url": ("image",),
    "video_url": ("video",),
    "mask_video_url": ("video",),
}
MAX_INPUT_VIDEO_SECONDS = 120.0
MAX_SIDE = 8192
"""Input images and video frames may be this many pixels wide and high at most..."""
MAX_PIXELS = 40_000_000
"""...and this many pixels in all: a decoded RGBA frame stays within 160 MB."""
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}


class MediaTooLarge(ValueError):
    """An image or video whose frames are past the pixel limits; the message says by how much."""


LIMIT_TEXT = f"inputs may be at most {MAX_SIDE} pixels a side and {MAX_PIXELS // 10**6} megapixels"


def check_pixels(width: int, height: int) -> None:
    """Raise MediaTooLarge past `MAX_SIDE` pixels a side or `MAX_PIXELS` in all."""
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise MediaTooLarge(f"is {width}x{height} pixels; {LIMIT_TEXT}")


def _probe_image(path: Path) -> tuple[MediaKind, str, float] | None:
    """An image's kind and extension; None when it is an image but will not decode, and
    UnidentifiedImageError when it is no image at all.

    `Image.open` reads only the header, so the size is checked before a single pixel is
    decoded; the full decode then proves the file is whole (`verify` does not) within the
    memory the limits allow.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            check_pixels(*image.size)
            image.load()
            return "image", EXTENSIONS.get(image.format or "", ".img"), 0.0
    except (MediaTooLarge, UnidentifiedImageError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own limits are above ours: whatever trips them is too large here too.
        raise MediaTooLarge(f"has too many pixels; {LIMIT_TEXT}") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError):
        return None


def _probe_video(path: Path) -> tuple[MediaKind, str, float] | None:
    """A video's kind and duration, once its first frame has really decoded."""
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams:
                return None
            stream = streams[0]
            check_pixels(stream.codec_context.width, stream.codec_context.height)
            frame = next(container.decode(stream), None)
            if frame is None:
                return None
            check_pixels(frame.width, frame.height)
            if container.duration is not None:
                seconds = container.duration / 1_000_000
            elif stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = 0.0
            return "video", ".mp4", seconds
    except MediaTooLarge:
        raise
    except (av.error.FFmpegError, OSError, ValueError, MemoryError):
        return None


def probe_media(path: Path) -> tuple[MediaKind, str, float] | None:
    """Identify an image or a video file: its kind, file extension and duration in seconds.

    None when it is neither, or is one that does not decode (a truncated image, junk behind
    an image header); MediaTooLarge when its frames are past the pixel limits.
    Pillow and PyAV are imported on the first probe, not when the gateway starts.
    """
    from PIL import UnidentifiedImageError

    try:
        return _probe_image(path)
    except UnidentifiedImageError:
        pass
    return _probe_video(path)


def _decode_data_url(url: str, field: str) -> bytes:
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise InvalidRequest(f"{field} is not a valid data: URL.", param=field)
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=True)
        return unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{field} has invalid base64 data.", param=field) from exc


class InputFetcher:
    """Turns each input URL of a request into a stored, identified blob."""

    def __init__(self, blobs: BlobStore, fetcher: GuardedFetcher, max_bytes: int) -> None:
        self.blobs = blobs
        self.fetcher = fetcher
        self.max_bytes = max_bytes

    def _too_large(self, field: str) -> InvalidRequest:
        return InvalidRequest(
            f"{field} is larger than the {self.max_bytes} byte limit for inputs.",
            param=field,
            code="input_too_large",
        )

    async def _download(self, url: str, field: str, staged: Path) -> None:
        import httpx  # with the fetcher's first request, not at start

        try:
            async with asyncio.timeout(self.fetcher.timeout):
                response = await self.fetcher.open(url)
        except BlockedAddress as exc:
            raise InvalidRequest(f"{field} cannot be fetched: {exc}.", param=field) from exc
        except (httpx.HTTPError, TimeoutError) as exc:
            raise InvalidRequest(
                f"{field} is unreachable: {type(exc).__name__}.",
                param=field,
                code="input_unreachable",
            ) from exc
        try:
            if response.status_code != 200:
                raise InvalidRequest(
                    f"{field} answered HTTP {response.status_code}.",
                    param=field,
                    code="input_unreachable",
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_large(field)
            size = 0
            with staged.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise self._too_large(field)
                    handle.write(chunk)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise InvalidRequest(
                f"{field} could not be read: {type(exc).__name__}.",
                param=field,
                code="input_unreachable",
            ) from exc
        finally:
            await response.aclose()

    async def store(self, url: str, name: str, field: str) -> StoredInput:
        """Fetch one input of request field ``name`` and keep it; ``field`` is how errors name
        it (``reference_urls[1]``). A 400 naming the field on any problem.

        A URL of this gateway's own (an upload, another task's result) is read from the blob
        store directly, never fetched over HTTP.
        """
        kinds = INPUT_FIELDS[name]
        own = self.blobs.resolve_own_url(url)
        blob_id = new_id("input")
        staged = self.blobs.staging(blob_id)
        try:
            if own is not None:
                try:
                    await self.blobs.duplicate(own, staged)
                except OSError:
                    raise InvalidRequest(
                        f"{field} refers to a file that is gone.", param=field
                    ) from None
            elif url.startswith("data:"):
                data = _decode_data_url(url, field)
                if len(data) > self.max_bytes:
                    raise self._too_large(field)
                await asyncio.to_thread(staged.write_bytes, data)
            elif url.startswith(("http://", "https://")):
                await self._download(url, field, staged)
            else:
                raise InvalidRequest(
                    f"{field} must be an http(s) URL, a data: URL or an uploaded file's URL.",
                    param=field,
                )
            try:
                probed = await asyncio.to_thread(probe_media, staged)
            except MediaTooLarge as exc:
                raise InvalidRequest(f"{field} {exc}.", param=field) from None
            if probed is None or probed[0] not in kinds:
                wanted = " or ".join(kinds)
                raise InvalidRequest(f"{field} is not a readable {wanted}.", param=field)
            kind, extension, seconds = probed
            if seconds > MAX_INPUT_VIDEO_SECONDS:
                raise InvalidRequest(
                    f"{field} is {seconds:.1f} s long; inputs may last "
                    f"{MAX_INPUT_VIDEO_SECONDS:.0f} s at most.",
                    param=field,
                )
            blob_name = blob_id + extension
            await self.blobs.commit(staged, blob_name)
            return StoredInput(field=name, blob=blob_name, kind=kind, duration=seconds)
        finally:
            staged.unlink(missing_ok=True)
