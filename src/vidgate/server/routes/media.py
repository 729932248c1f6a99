"""Signed, expiring downloads of results and uploads; no API key needed, Range supported."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from vidgate.blobs import SignatureError
from vidgate.server.auth import services_of
from vidgate.server.errors import error_response
from vidgate.server.openapi import NATIVE, binary, errors

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


MEDIA_TYPES = sorted({*CONTENT_TYPES.values(), "application/octet-stream"})
DOWNLOAD = binary(*MEDIA_TYPES) | errors(NATIVE, 403, 410)
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
    try:
        services.blobs.verify(
            name, request.query_params.get("expires"), request.query_params.get("signature")
        )
    except SignatureError as exc:
        if exc.expired:
            return error_response(410, "url_expired", str(exc))
        return error_response(403, "invalid_signature", str(exc))
    path = services.blobs.path(name)
    if not path.is_file():
        return error_response(410, "gone", "This file no longer exists.")
    suffix = path.suffix.lower()
    return FileResponse(
        path,
        media_type=CONTENT_TYPES.get(suffix, "application/octet-stream"),
        headers={"Cache-Control": "private, max-age=3600"},
    )
