"""Local files named in a request: finding them, and putting their URLs in their place.

A gateway takes them through `POST /v1/files`; every other dialect receives a `data:` URL
(DashScope accepts base64 `data:` URLs for images; host large videos and pass their URL).
"""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from vidgate.errors import InvalidRequest
from vidgate.models import VideoRequest

__all__ = ["LocalInput", "data_url", "local_inputs", "local_path", "with_urls"]

URL_FIELDS = (
    "img_url",
    "first_frame_url",
    "last_frame_url",
    "reference_urls",
    "video_url",
    "ref_images_url",
    "mask_image_url",
    "mask_video_url",
)
EXTRA_URL_FIELDS = ("audio_url", "first_clip_url", "last_clip_url")
"""Input URLs that travel with the request's extras (DashScope's wan2.7 inputs)."""


@dataclass(frozen=True)
class LocalInput:
    """A local file in a request field; `index` is its place in a list field."""

    field: str
    index: int | None
    path: Path


def local_path(value: str) -> Path | None:
    """The file a value names, or None when it is a URL (`http(s)://`, `data:`, `oss://` …)."""
    if value.startswith("file://"):
        return Path(unquote(urlsplit(value).path))
    if value.startswith("data:") or "://" in value:
        return None
    return Path(value).expanduser()


def _values(request: VideoRequest, name: str) -> list[str] | str | None:
    value = request.vace.get(name) if name in EXTRA_URL_FIELDS else getattr(request, name)
    return value if isinstance(value, str | list) else None


def local_inputs(request: VideoRequest) -> list[LocalInput]:
    """Every local file the request names; a missing one is an error naming its field."""
    found = []
    for name in (*URL_FIELDS, *EXTRA_URL_FIELDS):
        value = _values(request, name)
        items = value if isinstance(value, list) else [value] if value else []
        for index, item in enumerate(items):
            path = local_path(item) if isinstance(item, str) else None
            if path is None:
                continue
            if not path.is_file():
                raise InvalidRequest(f"{name}: no such file: {item}", param=name)
            found.append(LocalInput(name, index if isinstance(value, list) else None, path))
    return found


def with_urls(request: VideoRequest, urls: dict[LocalInput, str]) -> VideoRequest:
    """The request with each local file replaced by its URL."""
    update: dict[str, object] = {}
    lists: dict[str, list[str]] = {}
    extras = dict(request.vace)
    for local, url in urls.items():
        if local.field in EXTRA_URL_FIELDS:
            extras[local.field] = url
        elif local.index is None:
            update[local.field] = url
        else:
            items = lists.setdefault(local.field, list(getattr(request, local.field)))
            items[local.index] = url
    update.update(lists, vace=extras)
    return request.model_copy(update=update)


def data_url(path: Path, data: bytes) -> str:
    """`data:<type>;base64,…` for a file's bytes."""
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"
