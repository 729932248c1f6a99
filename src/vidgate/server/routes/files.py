"""Uploads: an image or video sent as multipart, returned as a URL that requests can use."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse

from vidgate.dialects.common import whole_number
from vidgate.errors import InvalidRequest, PayloadTooLarge
from vidgate.server.auth import Caller, services_of
from vidgate.server.openapi import NATIVE, FileUpload, errors, multipart_body

__all__ = ["router"]

router = APIRouter(tags=["files"])


@router.post(
    "/v1/files",
    status_code=201,
    responses=errors(NATIVE, 400, 401, 413, 503, 507),
    openapi_extra=multipart_body(FileUpload),
)
async def upload_file(request: Request, caller: Caller) -> JSONResponse:
    """Keep the multipart `file` part and answer with its signed URL."""
    services = services_of(request)
    limit = services.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    size = whole_number(declared)
    if size is not None and size > limit + 64 * 1024:
        raise PayloadTooLarge(f"The upload is larger than {limit} bytes.", param="file")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(
            "Send the file as multipart/form-data in a part named file.", param="file"
        )
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("The multipart body has no file part named file.", param="file")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"The upload is larger than {limit} bytes.", param="file")
        saved = await services.files.save_upload(
            caller.id, upload.filename, upload.content_type or "application/octet-stream", data
        )
    return JSONResponse(saved, status_code=201)
