"""HTTP answers that carry a blob, streamed from the store it lives in.

A single byte range is honoured (206), an unsatisfiable one refused (416), and anything else
(several ranges, a malformed header, an If-Range that no longer matches) answered whole, as
HTTP allows. The read is begun before the status line is sent, so a blob deleted in between
(a result purged by retention) is answered as missing rather than cut off mid-body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import format_datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from vidgate.blobs import BlobInfo, BlobStore

__all__ = ["blob_response", "byte_range"]

SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(ValueError):
    """A byte range that starts past the end of the blob."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``(start, end)`` (end exclusive) that a Range header asks for; None for the whole
    blob; Unsatisfiable for a range past its end."""
    if not header:
        return None
    match = SINGLE_RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable(header)
        return max(0, size - suffix), size
    start = int(first)
    end = size if not last else min(size, int(last) + 1)
    if last and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable(header)
    return start, end


def _validators(info: BlobInfo) -> dict[str, str]:
    headers = {"Accept-Ranges": "bytes"}
    if info.etag:
        headers["ETag"] = info.etag
    if info.modified is not None:
        headers["Last-Modified"] = format_datetime(info.modified, usegmt=True)
    return headers


async def blob_response(
    blobs: BlobStore,
    name: str,
    request: Request,
    media_type: str,
    headers: Mapping[str, str] | None = None,
) -> Response | None:
    """The blob as a download (Range supported), or None when there is no such blob."""
    extra = dict(headers or {})
    info = await blobs.stat(name)
    if info is None:
        return None
    extra |= _validators(info)
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range not in (extra.get("ETag"), extra.get("Last-Modified")):
        range_header = None
    try:
        wanted = byte_range(range_header, info.size)
    except Unsatisfiable:
        extra["Content-Range"] = f"bytes */{info.size}"
        return Response(status_code=416, headers=extra)
    start, end = wanted or (0, info.size)
    status = 200
    if wanted is not None:
        status = 206
        extra["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
    extra["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=extra, media_type=media_type)
    try:
        chunks = await blobs.open_range(name, start, end)
    except FileNotFoundError:
        return None
    return StreamingResponse(chunks, status_code=status, headers=extra, media_type=media_type)
