"""Signed, expiring downloads of results and uploads; no API key needed, Range supported."""

from __future__ import annotations

from pathlib import PurePosixPath

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vidgate.blobs import BlobStore, SignatureError, check_blob_id
from vidgate.server.auth import services_of
from vidgate.server.blobresponse import blob_response
from vidgate.server.errors import error_response
from vidgate.server.openapi import NATIVE, binary, errors
from vidgate.settings import Settings

__all__ = ["router"]

router = APIRouter(tags=["media"])
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
}


REDIRECT = {307: {"description": "To the object store itself, with VIDGATE_MEDIA_REDIRECT."}}
MEDIA_TYPES = sorted({*CONTENT_TYPES.values(), "application/octet-stream"})
DOWNLOAD = binary(*MEDIA_TYPES) | errors(NATIVE, 403, 410) | REDIRECT
SIGNED = {
    "parameters": [
        {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
        for name in ("expires", "signature")
    ]
}


@router.head("/v1/media/{name}", response_class=Response, responses=DOWNLOAD, openapi_extra=SIGNED)
@router.get("/v1/media/{name}", response_class=Response, responses=DOWNLOAD, openapi_extra=SIGNED)
async def media(request: Request, name: str) -> Response:
    """Serve a blob when the URL's signature is valid and in date (403 bad, 410 expired)."""
    services = services_of(request)
    given = request.query_params.get("expires")
    try:
        services.blobs.verify(name, given, request.query_params.get("signature"))
    except SignatureError as exc:
        if exc.expired:
            return error_response(410, "url_expired", str(exc))
        return error_response(403, "invalid_signature", str(exc))
    expires = int(given or 0)
    try:
        check_blob_id(name)
    except ValueError:
        return error_response(410, "gone", "This file no longer exists.")
    if services.settings.media_redirect:
        redirect = await _redirect(services.blobs, services.settings, name, expires)
        if redirect is not None:
            return redirect
    suffix = PurePosixPath(name).suffix.lower()
    response = await blob_response(
        services.blobs,
        name,
        request,
        CONTENT_TYPES.get(suffix, "application/octet-stream"),
        {"Cache-Control": "private, max-age=3600"},
    )
    if response is None:
        return error_response(410, "gone", "This file no longer exists.")
    return response


async def _redirect(
    blobs: BlobStore, settings: Settings, name: str, expires: int
) -> Response | None:
    """A 307 to a short-lived URL of the object store itself, where the backend has them."""
    if not await blobs.exists(name):
        return error_response(410, "gone", "This file no longer exists.")
    left = max(1, expires - int(blobs.clock()))
    url = await blobs.presign(name, min(settings.media_redirect_ttl, left))
    if url is None:
        return None
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
