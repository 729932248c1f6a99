"""DashScope's temporary-file uploads, as the dashscope SDK makes them for `file://` inputs.

`GET /api/v1/uploads?action=getPolicy&model=…` answers a policy whose `upload_host` is this
gateway's `POST /api/v1/uploads/form`; the SDK posts the file there and sends `oss://{key}`
with `X-DashScope-OssResourceResolve: enable`, which `resolve_oss_urls` turns back into the
uploaded file's signed URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from vidgate.dialects import dashscope_uploads as policy
from vidgate.dialects.common import whole_number
from vidgate.errors import InvalidRequest, PayloadTooLarge
from vidgate.server.auth import Caller, services_of
from vidgate.server.openapi import DASHSCOPE, DashScopeUploadForm, errors, multipart_body
from vidgate.server.routes.dashscope_wire import ROUTE_CLASS, request_id_of
from vidgate.service.oss_uploads import OssUploads

__all__ = ["RESOLVE_HEADER", "resolve_oss_urls", "router"]

RESOLVE_HEADER = "X-DashScope-OssResourceResolve"
FORM_PATH = "/api/v1/uploads/form"
FORM_SLACK = 64 * 1024
"""What a multipart body may carry beside the file: the policy, the signature, the boundaries."""

router = APIRouter(tags=["dashscope"], route_class=ROUTE_CLASS)


def _secret(request: Request) -> bytes:
    """The gateway's signing secret, which also signs upload policies."""
    return services_of(request).blobs.signer.secret


@router.get("/api/v1/uploads", responses=errors(DASHSCOPE, 400, 401, 503))
async def get_policy(
    request: Request,
    caller: Caller,
    action: Annotated[str, Query(description="Only `getPolicy`.")],
    model: Annotated[str, Query(min_length=1, description="The model the file is for.")],
) -> JSONResponse:
    """An upload policy: where and how to post one file, valid for a few minutes."""
    if action != "getPolicy":
        raise InvalidRequest("action must be getPolicy.", param="action")
    services = services_of(request)
    now = services.blobs.clock()
    grant = policy.new_grant(caller.id, model, services.settings.max_upload_bytes, now)
    host = services.settings.base_url + FORM_PATH
    data = policy.issue(grant, _secret(request), host, now)
    return JSONResponse({"request_id": request_id_of(request), "data": data})


@router.post(
    "/api/v1/uploads/form",
    status_code=204,
    responses={
        200: {"description": "Kept (when the form asks `success_action_status=200`)."},
        **errors(DASHSCOPE, 400, 403, 409, 413, 503, 507),
    },
    openapi_extra=multipart_body(DashScopeUploadForm),
)
async def upload_form(request: Request) -> Response:
    """Keep one file posted as the policy allows; the policy, not an API key, authorizes it."""
    services = services_of(request)
    declared = whole_number(request.headers.get("content-length", ""))
    limit = services.settings.max_upload_bytes
    if declared is not None and declared > limit + FORM_SLACK:
        raise PayloadTooLarge(f"The upload is larger than {limit} bytes.", param="file")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Send the upload as multipart/form-data.", param="file")
    async with request.form(max_files=1, max_fields=20) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        grant, name = policy.verify(fields, _secret(request), services.blobs.clock())
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("The form has no file part named file.", param="file")
        allowed = min(limit, grant.max_bytes)
        data = await upload.read(allowed + 1)
        if len(data) > allowed:
            raise PayloadTooLarge(
                f"The upload is larger than the policy's {allowed} bytes.", param="file"
            )
        content_type = fields.get("x-oss-content-type") or upload.content_type
        await OssUploads(services.files).save(
            grant, fields["key"], name, content_type or "application/octet-stream", data
        )
    status = 200 if fields.get("success_action_status") == "200" else 204
    return Response(status_code=status)


async def resolve_oss_urls(request: Request, owner_id: str, body: object) -> object:
    """The create body with each `oss://` URL in its `input` replaced by the uploaded file's
    signed URL; a 400 naming the field for one this key did not upload, or without
    `X-DashScope-OssResourceResolve: enable`."""
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        return body
    enabled = request.headers.get(RESOLVE_HEADER, "").lower() == "enable"
    uploads = OssUploads(services_of(request).files)

    async def walk(value: Any, where: str) -> Any:
        if isinstance(value, str):
            key = policy.oss_key(value)
            if key is None:
                return value
            if not enabled:
                raise InvalidRequest(
                    f"{where}: an oss:// URL needs the header {RESOLVE_HEADER}: enable.",
                    param=where,
                )
            return await uploads.resolve(owner_id, key, where)
        if isinstance(value, list):
            return [await walk(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, dict):
            return {k: await walk(item, f"{where}.{k}") for k, item in value.items()}
        return value

    return {**body, "input": await walk(body["input"], "input")}
